"""tqdm progress bars for long transfers, silenced by ``HF_HUB_DISABLE_PROGRESS_BARS``."""

from __future__ import annotations

from typing import Any

from .. import constants


def progress_bar(total: int | None, desc: str, *, disable: bool | None = None, **kwargs: Any) -> Any:
    """A byte-counting tqdm bar (a no-op one when ``HF_HUB_DISABLE_PROGRESS_BARS`` is set)."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = constants.progress_bars_disabled()
    return tqdm(
        total=total,
        desc=desc if len(desc) <= 40 else "(…)" + desc[-37:],
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=disable,
        leave=False,
        **kwargs,
    )
