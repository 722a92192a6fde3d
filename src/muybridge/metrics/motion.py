"""Does a clip move or morph? The flow-explained share: how much of a clip's frame-to-frame change is *motion*
(pixels moving) rather than *morphing* (pixels changing value).

For a clip of uint8 frames ``(T, H, W, 3)`` and each frame ``t > 0``:

1. dense optical flow from frame 0 to frame t (OpenCV Farneback on grey images, computed at ``UPSAMPLE``x
   the frame size -- at 64 px the pyramid's coarsest levels are only a few pixels wide and the 5-7 px
   polynomial neighbourhoods cover a whole eye; upsampling 2x first gave lower residuals on rigid motion),
2. frame t warped back onto frame 0 with ``cv2.remap`` along that flow (bilinear, border replicated),
3. ``change_t = mean |frame_t - frame_0|`` and ``residual_t = mean |warped_t - frame_0|`` over all pixels and
   RGB channels, in grey levels (0..255).

Summary (:func:`flow_metrics`):

* ``explained`` = ``1 - sum_t residual_t / sum_t change_t`` -- 1: all change is explained by moving pixels
  (a rigid/elastic motion), 0: none is (a cross-fade, a morph);
* ``flow_px`` = mean flow magnitude over pixels, averaged over t, in pixels of the original frame;
* ``peak_residual`` = ``residual_t`` at the frame with the largest ``change_t`` and ``peak_residual_p95`` the
  95th percentile of ``|warped_t - frame_0|`` (per pixel and channel) at that frame.

Near the border the warp samples outside the image; replicated borders are used, and a ``margin`` (default 0)
can exclude a frame of pixels from every mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

#: Flow is computed at this multiple of the frame size (bicubic upsampling), then scaled back.
UPSAMPLE = 2
#: Farneback parameters for 128-px grey images (64-px frames upsampled 2x): pyramid scale, levels, window,
#: iterations, poly_n, poly_sigma, flags.
FARNEBACK: dict[str, Any] = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 5, "poly_n": 5,
                             "poly_sigma": 1.1, "flags": 0}


def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def dense_flow(frame0: np.ndarray, frame_t: np.ndarray, upsample: int = UPSAMPLE) -> np.ndarray:
    """Flow ``(H, W, 2)`` in pixels of the original frame with ``frame0[y, x] ~ frame_t[y + fy, x + fx]``."""
    h, w = frame0.shape[:2]
    a, b = _grey(frame0), _grey(frame_t)
    if upsample > 1:
        size = (w * upsample, h * upsample)
        a = cv2.resize(a, size, interpolation=cv2.INTER_CUBIC)
        b = cv2.resize(b, size, interpolation=cv2.INTER_CUBIC)
    flow = cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)  # type: ignore[call-overload]
    if upsample > 1:
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) / upsample
    return flow.astype(np.float32)


def warp_back(frame_t: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``frame_t`` resampled at ``(x + fx, y + fy)``: lands on frame 0 where the flow is right. float32."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(frame_t.astype(np.float32), grid_x + flow[..., 0], grid_y + flow[..., 1],
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class FlowMetrics:
    explained: float
    flow_px: float
    peak_residual: float
    peak_residual_p95: float
    peak_change: float
    mean_change: float
    mean_residual: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def per_frame(frames: np.ndarray, margin: int = 0, upsample: int = UPSAMPLE) -> dict[str, np.ndarray]:
    """Per-frame arrays for t = 1..T-1: change, residual, flow magnitude, p95 of the residual."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) < 2:
        raise ValueError(f"expected uint8 frames (T>=2, H, W, 3), got {frames.dtype} {frames.shape}")
    crop = (slice(margin, frames.shape[1] - margin or None), slice(margin, frames.shape[2] - margin or None))
    ref = frames[0].astype(np.float32)
    change, residual, flow_px, p95 = [], [], [], []
    for frame in frames[1:]:
        flow = dense_flow(frames[0], frame, upsample)
        error = np.abs(warp_back(frame, flow) - ref)[crop]
        change.append(float(np.abs(frame.astype(np.float32) - ref)[crop].mean()))
        residual.append(float(error.mean()))
        p95.append(float(np.percentile(error, 95)))
        flow_px.append(float(np.linalg.norm(flow, axis=-1)[crop].mean()))
    return {k: np.asarray(v) for k, v in
            dict(change=change, residual=residual, flow_px=flow_px, p95=p95).items()}


def flow_metrics(frames: np.ndarray, margin: int = 0, upsample: int = UPSAMPLE) -> FlowMetrics:
    """The summary of one clip (see the module docstring)."""
    per = per_frame(frames, margin, upsample)
    peak = int(np.argmax(per["change"]))
    total_change = float(per["change"].sum())
    explained = 1.0 - float(per["residual"].sum()) / total_change if total_change > 0 else float("nan")
    return FlowMetrics(explained, float(per["flow_px"].mean()), float(per["residual"][peak]),
                       float(per["p95"][peak]), float(per["change"][peak]), float(per["change"].mean()),
                       float(per["residual"].mean()))


def mean_metrics(clips: list[np.ndarray], **kwargs: int) -> dict[str, float]:
    """Metrics of several clips, averaged (explained is averaged per clip)."""
    rows = [flow_metrics(c, **kwargs).as_dict() for c in clips]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def flow_signature(frames: np.ndarray, peak: int | None = None, upsample: int = UPSAMPLE) -> dict[str, float]:
    """What a clip's motion *does*, at frame ``peak`` (default: of largest change): the mean flow to the right
    (``dx``) and down
    (``dy``) in pixels, its mean curl (``curl``, positive clockwise on screen: a tilt) and divergence
    (``divergence``, positive outwards: leaning in), both in pixels per pixel scaled by half the frame's side."""
    frames = np.asarray(frames)
    if peak is None:
        change = [float(np.abs(frame.astype(np.float32) - frames[0]).mean()) for frame in frames[1:]]
        peak = 1 + int(np.argmax(change))
    flow = dense_flow(frames[0], frames[peak], upsample)
    dfx_dy, dfx_dx = np.gradient(flow[..., 0])
    dfy_dy, dfy_dx = np.gradient(flow[..., 1])
    half = frames.shape[1] / 2
    return {"dx": float(flow[..., 0].mean()), "dy": float(flow[..., 1].mean()),
            "curl": float((dfy_dx - dfx_dy).mean() * half), "divergence": float((dfx_dx + dfy_dy).mean() * half)}
