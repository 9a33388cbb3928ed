"""The LapStyle pyramid's size rules: plain integer arithmetic, no Paddle.

Kept apart from :mod:`ppgan_ext.pyramid` (tensor code) so that the commands
running an exported pyramid (``paddlegan stylize --model-dir``) check sizes
without importing Paddle; :mod:`ppgan_ext.pyramid` re-exports every name.
"""

__all__ = ['content_multiple', 'min_content_side', 'min_style_side', 'min_train_side',
           'top_level_size']


def content_multiple(levels: int) -> int:
    """Sides of the content a K-level pyramid works on are multiples of ``2 ** (K + 3)``.

    K halvings to the drafting level, then three stride-2 VGG stages down to
    relu4_1 whose nearest 2x upsamplings must land back on the same sizes.
    """
    return 2 ** (levels + 3)


def min_content_side(levels: int) -> int:
    """Padded content sides are at least ``2 ** (K + 4)`` (relu4_1 at least 2x2)."""
    return 2 * content_multiple(levels)


def min_style_side(levels: int) -> int:
    """Style sides must be at least ``2 ** (K + 4)`` (drafting-level relu4_1 at least 2x2)."""
    return 2 ** (levels + 4)


def min_train_side(levels: int) -> int:
    """Training crops of a K-level stage: sides at least ``max(32, 16 * 2 ** K)``."""
    return max(32, 16 * 2 ** levels)


def top_level_size(levels: int) -> int:
    """Resolution the top level of a K-level pyramid is trained at: ``128 * 2 ** K``."""
    return 128 * 2 ** levels
