"""Decode image files into 8-bit grey arrays, with errors that name the file."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}
MAX_PIXELS = 50_000_000  # a bigger image is refused as a likely decompression bomb


class ImageReadError(ValueError):
    """An image that cannot be used; the message names the file and the problem."""


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Palette and alpha images composited over white, as a viewer shows them."""
    img = img.convert("RGBA")
    background = Image.new("RGBA", img.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, img)


def _sixteen_bit_to_8(img: Image.Image) -> Image.Image:
    arr = np.asarray(img, dtype=np.float64)
    hi = max(float(arr.max()), 1.0)
    return Image.fromarray((arr * (255.0 / (65535.0 if hi > 255 else 255.0))).clip(0, 255).astype(np.uint8))


def _to_grey(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return _sixteen_bit_to_8(img)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = _flatten_alpha(img)
    return img.convert("L")


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = _sixteen_bit_to_8(img)
    elif img.mode in ("RGBA", "LA", "P", "PA"):
        img = _flatten_alpha(img)
    return img.convert("RGB")  # CMYK, YCbCr, L, 1 and F all convert


def _decode(path: str | Path, convert, upright: bool) -> Image.Image:
    """Open, check the size, decode fully and convert; every failure is an ImageReadError naming ``path``."""
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageReadError(f"{path}: image of {img.width}x{img.height} pixels is too large")
                img.load()
                if upright:
                    img = ImageOps.exif_transpose(img)
                return convert(img)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(f"{path}: refused as a decompression bomb ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, IndexError, TypeError, struct.error ...
        raise ImageReadError(f"{path}: cannot decode image ({_why_undecodable(exc, path)})") from None


def read_grey(path: str | Path, size: int | None = None) -> np.ndarray:
    """Read ``path`` as a (H, W) uint8 grey array, resized to ``size`` x ``size`` if given.

    Raises :class:`ImageReadError` for missing, truncated, non-image or oversized files.
    """
    grey = _decode(path, _to_grey, upright=False)
    if size is not None and grey.size != (size, size):
        grey = grey.resize((size, size), Image.BILINEAR)
    return np.asarray(grey, dtype=np.uint8)


def read_rgb(path: str | Path) -> np.ndarray:
    """Read a photo as (H, W, 3) uint8 RGB, turned upright by its EXIF orientation.

    16-bit images are scaled to 8 bits, palette/alpha images composited over white, CMYK converted.
    Raises :class:`ImageReadError` as :func:`read_grey` does.
    """
    return np.asarray(_decode(path, _to_rgb, upright=True), dtype=np.uint8)


MULTI_FRAME_FORMATS = {"GIF", "WEBP", "TIFF", "PNG"}   # animations and multi-page files; not MPO / PSD layers
MAX_FRAMES = 10_000


def read_rgb_frames(path: str | Path, stride: int = 1, max_frames: int | None = None):
    """Every ``stride``-th frame of a photo as (H, W, 3) uint8 RGB, at most ``max_frames``: one for
    most files, each frame of an animated GIF / WebP / PNG or a multi-page TIFF (a JPEG's embedded
    previews or depth maps are not frames). Each frame is turned upright and size-checked; one that
    cannot be decoded raises :class:`ImageReadError` naming the file and the frame, after the
    frames before it."""
    path = Path(path)
    try:
        img = Image.open(path)
        n = getattr(img, "n_frames", 1) if img.format in MULTI_FRAME_FORMATS else 1
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a folder, not an image") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on damaged files
        raise ImageReadError(f"{path}: cannot decode image ({_why_undecodable(exc, path)})") from None
    with img:
        if n == 1:
            yield read_rgb(path)
            return
        if n > MAX_FRAMES:
            raise ImageReadError(f"{path}: {n} frames; at most {MAX_FRAMES} are read")
        indices = range(0, n, stride)
        for count, i in enumerate(indices):
            if max_frames is not None and count >= max_frames:
                return
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    img.seek(i)
                    if img.width * img.height > MAX_PIXELS:
                        raise ImageReadError(f"{path}: frame {i} of {img.width}x{img.height} pixels is too large")
                    img.load()
                    frame = np.asarray(_to_rgb(ImageOps.exif_transpose(img.copy())), dtype=np.uint8)
            except ImageReadError:
                raise
            except Exception as exc:  # noqa: BLE001 - a damaged frame, whatever Pillow calls it
                raise ImageReadError(f"{path}: frame {i} of {n} cannot be decoded ({type(exc).__name__}: {exc})") from None
            yield frame


def _why_undecodable(exc: Exception, path) -> str:
    """Pillow's complaint in a few words, without the path it repeats."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "not an image format Pillow reads"
    text = str(exc).replace(f"'{path}'", "").strip(" :") or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
