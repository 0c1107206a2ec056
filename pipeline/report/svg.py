"""Small hand-written SVG charts for the report: inline, no script, no library, crisp at any
size. Each returns markup with a title for screen readers; labels arrive in plain words."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

FONT = 13
INK, MUTED, GRID = "#1f2328", "#59636e", "#d8dee4"
VERDICT_COLOURS = {"works": "#1a7f37", "hurts": "#cf222e", "unclear": "#8c959f"}
REASON_COLOURS = {"forgot": "#0969da", "satisfaction": "#bc4c00", "choice": "#8250df",
                  "price": "#1a7f37", "other": "#8c959f"}
CHANNEL_COLOURS = {"email": "#0969da", "sms": "#8250df", "phone": "#bc4c00"}
SERIES = ("#0969da", "#bc4c00", "#1a7f37", "#8250df", "#cf222e", "#4d2d00", "#0a3069",
          "#8c959f", "#bf3989")


def _t(x: float, y: float, text: str, anchor: str = "start", size: int = FONT,
       colour: str = INK, weight: str = "normal", cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{colour}" '
            f'text-anchor="{anchor}" font-weight="{weight}"{extra}>{escape(text)}</text>')


def _svg(width: int, height: float, title: str, body: list[str], cls: str = "chart") -> Markup:
    return Markup(f'<svg class="{cls}" viewBox="0 0 {width} {height:.0f}" role="img" '
                  f'aria-label="{escape(title)}">'
                  f'<title>{escape(title)}</title>{"".join(body)}</svg>')


def _legend(items: Sequence[tuple[str, str]], x: float, y: float, width: float) -> tuple[
        list[str], float]:
    """Colour keys laid out left to right, wrapping; returns (markup, height used)."""
    out, cx, cy = [], x, y
    for name, colour in items:
        w = 22 + 7.2 * len(name)
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 20
        out.append(f'<rect x="{cx:.1f}" y="{cy - 10:.1f}" width="12" height="12" rx="2" '
                   f'fill="{colour}"/>')
        out.append(_t(cx + 17, cy, name, size=12, colour=MUTED))
        cx += w + 12
    return out, cy - y + 20


def _label_width(labels: Sequence[str], size: int = FONT) -> int:
    """Room for the longest label (about 0.56 em per character), within bounds."""
    return int(min(330, max([60, *(len(s) * size * 0.56 + 14 for s in labels)])))


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[tuple[str, float, str]]]],
                 fmt: Callable[[float], str], width: int = 640, label_width: int | None = None,
                 legend: Sequence[tuple[str, str]] = ()) -> Markup:
    """Horizontal bars, one per row, made of coloured parts: (label, [(part, value, colour)])."""
    bar_h, gap, top = 22, 10, 8
    label_width = label_width or _label_width([label for label, _ in rows])
    total_max = max((sum(v for _, v, _ in parts) for _, parts in rows), default=0) or 1
    span = width - label_width - 70
    body, y = [], top
    for label, parts in rows:
        body.append(_t(label_width - 8, y + 16, label, "end"))
        x = float(label_width)
        for name, value, colour in parts:
            w = span * value / total_max
            if w > 0:
                body.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                            f'fill="{colour}"><title>{escape(name)}: {escape(fmt(value))}'
                            '</title></rect>')
            x += w
        body.append(_t(x + 6, y + 16, fmt(sum(v for _, v, _ in parts)), weight="bold"))
        y += bar_h + gap
    if legend:
        keys, h = _legend(legend, label_width, y + 12, span)
        body += keys
        y += h + 8
    return _svg(width, y + 4, title, body)


def bars(title: str, rows: Sequence[tuple[str, float, str]], fmt: Callable[[float], str],
         width: int = 640, label_width: int | None = None) -> Markup:
    """Horizontal bars: (label, value, colour)."""
    return stacked_bars(title, [(label, [(label, value, colour)]) for label, value, colour
                                in rows], fmt, width, label_width)


def forest(title: str, rows: Sequence[dict], axis: str, width: int = 640,
           label_width: int | None = None) -> Markup:
    """Estimates with intervals, one row each ({label, est, lo, hi, verdict, verdict_text,
    note}), coloured by verdict, zero marked; the verdict in words at the right."""
    row_h, top, note_w = 34, 14, 118
    label_width = label_width or _label_width([r["label"] for r in rows])
    lo = min([r["lo"] for r in rows] + [0.0])
    hi = max([r["hi"] for r in rows] + [0.0])
    pad = (hi - lo) * 0.06 or 0.01
    lo, hi = lo - pad, hi + pad
    x0, x1 = label_width, width - note_w

    def x(v: float) -> float:
        return x0 + (v - lo) / (hi - lo) * (x1 - x0)

    body = []
    height = top + row_h * len(rows)
    body.append(f'<line x1="{x(0):.1f}" y1="{top - 6}" x2="{x(0):.1f}" y2="{height}" '
                f'stroke="{MUTED}" stroke-dasharray="3 3"/>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        colour = VERDICT_COLOURS[r["verdict"]]
        body.append(_t(label_width - 10, y + 4, r["label"], "end"))
        body.append(f'<line x1="{x(r["lo"]):.1f}" y1="{y:.1f}" x2="{x(r["hi"]):.1f}" '
                    f'y2="{y:.1f}" stroke="{colour}" stroke-width="3" stroke-linecap="round"/>')
        body.append(f'<circle cx="{x(r["est"]):.1f}" cy="{y:.1f}" r="6" fill="{colour}">'
                    f'<title>{escape(r.get("note", ""))}</title></circle>')
        body.append(_t(x1 + 10, y + 4, r["verdict_text"], colour=colour, weight="bold"))
    ticks = _ticks(lo, hi, 5)
    for v in ticks:
        body.append(f'<line x1="{x(v):.1f}" y1="{height}" x2="{x(v):.1f}" y2="{height + 4}" '
                    f'stroke="{MUTED}"/>')
        body.append(_t(x(v), height + 18, f"{v * 100:+.0f}" if v else "0", "middle", 12,
                       MUTED))
    body.append(_t((x0 + x1) / 2, height + 36, axis, "middle", 12, MUTED))
    return _svg(width, height + 44, title, body)


def _ticks(lo: float, hi: float, n: int) -> list[float]:
    import math

    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-12:
        out.append(round(v, 10))
        v += step
    return out


def lines(title: str, x_labels: Sequence[str], series: Sequence[dict],
          fmt: Callable[[float], str], width: int = 640, height: int = 260,
          y_range: tuple[float, float] | None = None, zero: bool = False) -> Markup:
    """Lines over categories (batches): series = {name, colour, values, lo?, hi?}; a value of
    None is a gap. Intervals are drawn as whiskers, cut at the plot's edge: the axis follows the
    estimates (padded), so one wide interval does not flatten the others."""
    left, right, top, bottom = 56, 16, 12, 40
    values = [v for s in series for v in s["values"] if v is not None]
    lo, hi = y_range or (min(values + [0.0]), max(values + [0.0]))
    if not y_range:
        pad = (hi - lo) * 0.25 or 0.05
        lo, hi = lo - pad, hi + pad
    if hi <= lo:
        hi = lo + 1

    def clip(v: float) -> float:
        return min(hi, max(lo, v))
    n = len(x_labels)

    def x(i: int) -> float:
        return left + (width - left - right) * (i + 0.5) / max(1, n)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    body = []
    for v in _ticks(lo, hi, 6):
        body.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_t(left - 6, y(v) + 4, fmt(v), "end", 12, MUTED))
    if zero and lo < 0 < hi:
        body.append(f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" '
                    f'stroke="{MUTED}" stroke-dasharray="3 3"/>')
    step = max(1, round(n / 8))
    for i, label in enumerate(x_labels):
        if i % step == 0 or i == n - 1:
            body.append(_t(x(i), height - bottom + 18, label, "middle", 12, MUTED))
    offsets = [(k - (len(series) - 1) / 2) * 4 for k in range(len(series))]
    for s, dx in zip(series, offsets, strict=True):
        pts = [(x(i) + dx, y(v)) for i, v in enumerate(s["values"]) if v is not None]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            body.append(f'<polyline points="{path}" fill="none" stroke="{s["colour"]}" '
                        f'stroke-width="2"/>')
        for i, v in enumerate(s["values"]):
            if v is None:
                continue
            if s.get("lo") and s["lo"][i] is not None:
                body.append(f'<line x1="{x(i) + dx:.1f}" y1="{y(clip(s["lo"][i])):.1f}" '
                            f'x2="{x(i) + dx:.1f}" y2="{y(clip(s["hi"][i])):.1f}" '
                            f'stroke="{s["colour"]}" stroke-opacity="0.45" stroke-width="2"/>')
            body.append(f'<circle cx="{x(i) + dx:.1f}" cy="{y(v):.1f}" r="4" '
                        f'fill="{s["colour"]}"><title>{escape(s["name"])}, '
                        f'{escape(x_labels[i])}: {escape(fmt(v))}</title></circle>')
    keys, h = _legend([(s["name"], s["colour"]) for s in series], left, height + 4,
                      width - left - right)
    return _svg(width, height + h + 4, title, body + keys)


def heatmap(title: str, rows: Sequence[str], cols: Sequence[str],
            cells: dict[tuple[int, int], tuple[float, list[str]]], width: int = 640,
            label_width: int = 130) -> Markup:
    """A grid: cells[(row, col)] = (shade 0..1, lines of text); column labels on top."""
    top, cell_h = 30, 70
    cell_w = (width - label_width) / max(1, len(cols))
    body = []
    for j, label in enumerate(cols):
        body.append(_t(label_width + cell_w * (j + 0.5), 18, label, "middle", 12, MUTED))
    for i, label in enumerate(rows):
        y = top + cell_h * i
        body.append(_t(label_width - 10, y + cell_h / 2 + 4, label, "end", weight="bold"))
        for j in range(len(cols)):
            shade, text = cells.get((i, j), (0.0, []))
            light = shade < 0.55
            fill = f"rgba(207,34,46,{0.08 + 0.82 * shade:.3f})"
            body.append(f'<rect x="{label_width + cell_w * j + 2:.1f}" y="{y + 2}" '
                        f'width="{cell_w - 4:.1f}" height="{cell_h - 4}" rx="4" '
                        f'fill="{fill}"/>')
            for k, line in enumerate(text):
                body.append(_t(label_width + cell_w * (j + 0.5), y + 24 + 18 * k, line,
                               "middle", 13 if k else 15, INK if light else "#ffffff",
                               "bold" if k == 0 else "normal"))
    return _svg(width, top + cell_h * len(rows) + 4, title, body)


def xy(title: str, curves: dict[str, list[tuple[float, float]]], colours: dict[str, str],
       x_title: str, y_title: str, width: int = 420, height: int = 340,
       diagonal: bool = True) -> Markup:
    """Curves on [0, 1] x [0, 1] (ROC, calibration), the diagonal dotted."""
    left, right, top, bottom = 50, 14, 12, 46

    def x(v: float) -> float:
        return left + (width - left - right) * v

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v)

    body = []
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<line x1="{x(0):.1f}" y1="{y(v):.1f}" x2="{x(1):.1f}" y2="{y(v):.1f}" '
                    f'stroke="{GRID}"/>')
        body.append(_t(x(0) - 6, y(v) + 4, f"{v:.2g}", "end", 11, MUTED))
        body.append(_t(x(v), y(0) + 16, f"{v:.2g}", "middle", 11, MUTED))
    if diagonal:
        body.append(f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(1):.1f}" y2="{y(1):.1f}" '
                    f'stroke="{MUTED}" stroke-dasharray="2 4"/>')
    for name, pts in curves.items():
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colours[name]}" '
                    f'stroke-width="{2.4 if name == next(iter(curves)) else 1.5}"/>')
    body.append(_t((x(0) + x(1)) / 2, height - 12, x_title, "middle", 12, MUTED))
    body.append(f'<text x="14" y="{(y(0) + y(1)) / 2:.1f}" font-size="12" fill="{MUTED}" '
                f'text-anchor="middle" transform="rotate(-90 14 {(y(0) + y(1)) / 2:.1f})">'
                f'{escape(y_title)}</text>')
    keys, h = _legend([(name, colours[name]) for name in curves], left, height + 6,
                      width - left - right)
    return _svg(width, height + h + 6, title, body + keys)
