"""seghub-encoders-timm: every suitable timm backbone as a seghub encoder."""
