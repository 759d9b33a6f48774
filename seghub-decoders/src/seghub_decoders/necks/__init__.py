"""Necks: parts between encoder and decoder that turn an encoder's features into ones a decoder
can use (``simple_pyramid``: a plain ViT's one reduction into a pyramid; ``grid_resample``: a
patch-14 token grid onto power-of-two reductions)."""
