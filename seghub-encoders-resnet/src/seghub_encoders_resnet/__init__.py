"""seghub-encoders-resnet: ResNet and ResNeXt encoders in plain PyTorch."""
