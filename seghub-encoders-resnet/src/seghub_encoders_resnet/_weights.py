"""Pretrained checkpoints of the ResNet/ResNeXt encoders (no torch here).

Every checkpoint is a ``model.safetensors`` in a ``smp-hub/<name>.<tag>`` repository, pinned to
the revision segmentation_models_pytorch 0.6 uses. The files hold the encoder's state dict in
torchvision's key layout (``conv1.weight``, ``layer1.0.bn1.running_mean``, ...). All of them
expect ImageNet-normalised RGB input in [0, 1].
"""

from __future__ import annotations

from seghub.weights import Preprocessing, PretrainedWeights

__all__ = ["WEIGHTS", "weights_table"]

_IMAGENET = Preprocessing()

_DESCRIPTIONS = {
    "imagenet": "supervised on ImageNet-1k",
    "ssl": "semi-supervised on YFCC100M, fine-tuned on ImageNet-1k",
    "swsl": "semi-weakly supervised on Instagram-1B, fine-tuned on ImageNet-1k",
    "instagram": "weakly supervised on Instagram hashtags, fine-tuned on ImageNet-1k",
}

# name -> tag -> revision of https://huggingface.co/smp-hub/<name>.<tag>
_REVISIONS: dict[str, dict[str, str]] = {
    "resnet18": {
        "imagenet": "3f2325ff978283d47aa6a1d6878ca20565622683",
        "ssl": "d600d5116aac2e6e595f99f40612074c723c00b2",
        "swsl": "0e3a35d4d8e344088c14a96eee502a88ac70eae1",
    },
    "resnet34": {
        "imagenet": "7a57b34f723329ff020b3f8bc41771163c519d0c",
    },
    "resnet50": {
        "imagenet": "00cb74e366966d59cd9a35af57e618af9f88efe9",
        "ssl": "d07daf5b4377f3700c6ac61906b0aafbc4eca46b",
        "swsl": "b9520cce124f91c6fe7eee45721a2c7954f0d8c0",
    },
    "resnet101": {
        "imagenet": "cd7c15e8c51da86ae6a084515fdb962d0c94e7d1",
    },
    "resnet152": {
        "imagenet": "951dd835e9d086628e447b484584c8983f9e1dd0",
    },
    "resnext50_32x4d": {
        "imagenet": "329793c85d62fd340ae42ae39fb905a63df872e7",
        "ssl": "9b67cff77d060c7044493a58c24d1007c1eb06c3",
        "swsl": "52e6e49da61b8e26ca691e1aef2cbb952884057d",
    },
    "resnext101_32x4d": {
        "ssl": "b39796c8459084d13523b7016c3ef13a2e9e472b",
        "swsl": "3f8355b4892a31f001a832b49b2b01484d48516a",
    },
    "resnext101_32x8d": {
        "imagenet": "221af6198d03a4ee88992f78a1ee81b46a52d339",
        "instagram": "44cd927aa6e64673ffe9d31230bad44abc18b823",
        "ssl": "723a95ddeed335c9488c37c6cbef13d779ac8f97",
        "swsl": "58cf0bb65f91365470398080d9588b187d1777c4",
    },
    "resnext101_32x16d": {
        "instagram": "64e8e320eeae6501185b0627b2429a68e52d050c",
        "ssl": "1283fe03fbb6aa2599b2df24095255acb93c3d5c",
        "swsl": "30ba61bbd4d6af0d955c513dbb4f557b84eb094f",
    },
    "resnext101_32x32d": {
        "instagram": "c9405de121fdaa275a89de470fb19409e3eeaa86",
    },
    "resnext101_32x48d": {
        "instagram": "53e61a962b824ad7027409821f9ac3e3336dd024",
    },
}

WEIGHTS: dict[str, dict[str, PretrainedWeights]] = {
    name: {
        tag: PretrainedWeights(
            repo_id=f"smp-hub/{name}.{tag}",
            revision=revision,
            filename="model.safetensors",
            preprocessing=_IMAGENET,
            description=_DESCRIPTIONS[tag],
        )
        for tag, revision in tags.items()
    }
    for name, tags in _REVISIONS.items()
}


def weights_table(name: str) -> dict[str, PretrainedWeights]:
    """The checkpoints offered for encoder ``name``, by tag (empty for an unknown name)."""
    return dict(WEIGHTS.get(name, {}))
