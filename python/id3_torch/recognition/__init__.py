"""Face recognition: iResNet backbones (arcface_torch layout), margin-softmax heads, checkpoint files.

    backbone = build_backbone("iresnet-small", input_size=64)   # or "iresnet50" at 112 px
    head = ArcFaceHead(num_classes, 512)                          # CosFaceHead, AdaFaceHead, ...
    loss = head(backbone(normalize_face_images(images)), labels).loss
"""

from id3_torch.recognition.checkpoints import load_backbone_checkpoint, load_safetensors, save_safetensors
from id3_torch.recognition.heads import (
    AdaFaceHead,
    ArcFaceHead,
    CombinedMarginHead,
    CosFaceHead,
    MarginHead,
    MarginHeadOutput,
)
from id3_torch.recognition.iresnet import BACKBONE_NAMES, IResNet, build_backbone, normalize_face_images

__all__ = [
    "BACKBONE_NAMES",
    "AdaFaceHead",
    "ArcFaceHead",
    "CombinedMarginHead",
    "CosFaceHead",
    "IResNet",
    "MarginHead",
    "MarginHeadOutput",
    "build_backbone",
    "load_backbone_checkpoint",
    "load_safetensors",
    "normalize_face_images",
    "save_safetensors",
]
