"""Sizes and token counts of what a request carries, pure arithmetic: each model's image tier,
the tokens an image costs, the size an image is fitted to, the API's per-image side limits,
and the base64 size of any file sent inline (images and PDFs); see docs/images.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TierLimits:
    """What a model keeps of an image: anything larger is downscaled by the API."""

    name: str
    long_edge: int
    max_pixels: int
    max_tokens: int


IMAGE_TIERS: dict[str, TierLimits] = {
    tier.name: tier
    for tier in (
        TierLimits("standard", long_edge=1568, max_pixels=1_150_000, max_tokens=1568),
        TierLimits("high", long_edge=2576, max_pixels=3_750_000, max_tokens=4784),
    )
}

PATCH_PX = 28  # one token per started 28 × 28 px patch

# Limits of the Messages API for one image.
MAX_IMAGE_SIDE = 8000
MANY_IMAGES = 20  # above this many images in one request…
MANY_IMAGES_MAX_SIDE = 2000  # …every side must stay within this
# Per image, in base64: 10 MB on the Claude API, 5 MB on Amazon Bedrock and Google Cloud.
# The default of the setting ANTHROPIC_MAX_IMAGE_BASE64_BYTES, which callers pass in.
MAX_BASE64_BYTES = 10_000_000


def patch_tokens(width: int, height: int) -> int:
    """⌈w/28⌉ × ⌈h/28⌉: the API's estimate for an image it does not downscale."""
    return math.ceil(width / PATCH_PX) * math.ceil(height / PATCH_PX)


def fit_size(
    width: int, height: int, image_tier: str, max_side: int | None = None
) -> tuple[int, int]:
    """The largest size, same aspect, that the tier keeps whole (and within ``max_side``)."""
    tier = IMAGE_TIERS[image_tier]
    long_edge = min(tier.long_edge, max_side or tier.long_edge)
    scale = min(1.0, long_edge / max(width, height), math.sqrt(tier.max_pixels / (width * height)))
    while True:
        size = max(1, int(width * scale)), max(1, int(height * scale))
        # Rounding up to whole patches can overshoot the token cap by a few tokens.
        if patch_tokens(*size) <= tier.max_tokens:
            return size
        scale *= 0.99


def image_tokens(width: int, height: int, image_tier: str) -> int:
    """Input tokens a model of this tier counts for an image of this size."""
    return patch_tokens(*fit_size(width, height, image_tier))


def tokens_by_tier(width: int, height: int) -> dict[str, int]:
    """The estimate for every tier, so a page can follow a change of model without asking."""
    return {name: image_tokens(width, height, name) for name in IMAGE_TIERS}


def base64_size(byte_count: int) -> int:
    return 4 * math.ceil(byte_count / 3)


def request_max_side(image_count: int) -> int:
    """The longest side the API accepts for each image of a request with this many images."""
    return MANY_IMAGES_MAX_SIDE if image_count > MANY_IMAGES else MAX_IMAGE_SIDE
