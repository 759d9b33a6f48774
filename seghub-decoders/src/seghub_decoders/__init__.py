"""seghub-decoders: the twelve segmentation decoders of seghub."""
