"""Human-readable forms of the evaluation report: Markdown tables and a per-image CSV."""

from __future__ import annotations

import csv
from typing import Iterable, List, Optional, Sequence


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned).

    Args:
        header (Sequence[str]): column titles.
        rows (Iterable[Sequence]): cell values; floats get two decimals, None prints "n/a".

    Returns:
        str: the table, one line per row, ending with a newline.
    """
    rows = [[_fmt(v) for v in row] for row in rows]
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def report_to_markdown(report: dict, title: Optional[str] = None) -> str:
    """The evaluation report of :class:`DefectMetric` as Markdown for people.

    Args:
        report (dict): the JSON report (scores in percent).
        title (str, optional): first heading. Default: "Defect segmentation report".

    Returns:
        str: Markdown text: summary, per-class scores, tolerance sweep, confusion matrix and
        image-level verdict tables.
    """
    names: List[str] = list(report["classes"])
    defect_names = names[1:]
    k = report.get("tolerance_px")
    out = [f"# {title or 'Defect segmentation report'}\n"]
    provenance = [f"- {key}: `{report[key]}`" for key in ("config", "checkpoint", "date")
                  if report.get(key)]
    data = report.get("data") or {}
    if data:
        variable = f" (set by `{data['variable']}`)" if data.get("variable") else ""
        provenance.append(f"- data: `{data.get('data_root')}`{variable}, split "
                          f"`{data.get('split')}`")
    labeled = data.get("labeled_target") or {}
    if labeled:
        listed = ", ".join(labeled.get("names") or []) or "n/a"
        provenance.append(f"- trained with {labeled.get('num')} labeled target images "
                          f"(`{labeled.get('split')}`, share {labeled.get('ratio')} of the "
                          f"source items): {listed}")
    provenance.append(f"- images: {report['num_images']}; scores in percent; pixels with label "
                      f"{report['ignore_index']} ignored")
    thresholds = report.get("thresholds") or {}
    if thresholds:
        tiles = (f", tiles of {thresholds['tile_px']} px" if thresholds.get("tile_px")
                 else ", no tile verdict")
        provenance.append(
            f"- thresholds: pixel class = {thresholds.get('pixel')} of the model's scores; a "
            f"defect region counts from {thresholds.get('verdict_min_area_px')} px{tiles}; "
            f"distance tolerance {thresholds.get('tolerance_px')} px")
    out.append("\n".join(provenance) + "\n")

    img = report.get("image_level") or {}
    summary = [("mIoU", report["mIoU"]), ("mF1 (= mDice)", report["mF1"]),
               (f"mean tolerant F1 ({k} px)", report.get("mTolerantF1")),
               ("pixel accuracy (aAcc)", report["aAcc"])]
    if img:
        summary += [("image-level recall (defective images found)", img.get("recall")),
                    ("image-level precision", img.get("precision"))]
    tiles = report.get("tile_level") or {}
    if tiles:
        summary += [(f"false alarms on defect-free {tiles['tile_px']} px tiles",
                     tiles.get("false_alarm_rate"))]
    out.append("## Summary\n\n" + markdown_table(["metric", "value"], summary))

    rows = []
    for name in names:
        vals = report["per_class"][name]
        tol = vals.get("tolerant") or {}
        rows.append([name, vals["IoU"], vals["precision"], vals["recall"], vals["F1"],
                     tol.get("precision"), tol.get("recall"), tol.get("F1"),
                     vals.get("gt_pixels"), vals.get("pred_pixels")])
    out.append("## Per class\n\n" + markdown_table(
        ["class", "IoU", "precision", "recall", "F1 (Dice)", f"tol. precision @{k}px",
         f"tol. recall @{k}px", f"tol. F1 @{k}px", "true px", "predicted px"], rows))

    tolerances = report.get("tolerances") or []
    if tolerances and defect_names:
        rows = []
        for name in defect_names:
            by_px = report["per_class"][name].get("tolerant_by_px", {})
            rows.append([name] + [by_px.get(str(t), {}).get("F1") for t in tolerances])
        out.append("## F1 by distance tolerance\n\nA predicted pixel counts as correct within k "
                   "pixels of a true one, a true pixel as found within k pixels of a predicted "
                   "one (k = 0: strict).\n\n" + markdown_table(
                       ["class"] + [f"{t} px" for t in tolerances], rows))

    cm = report.get("confusion_matrix")
    if cm:
        norm = report.get("confusion_matrix_normalized") or [[None] * len(names)] * len(names)
        rows = [[f"**{name}**"] + [f"{cm[i][j]} ({_fmt(norm[i][j], 1)} %)"
                                   for j in range(len(names))] for i, name in enumerate(names)]
        out.append("## Confusion matrix\n\nPixels; rows = truth, columns = prediction; in "
                   "brackets the percent of the true class.\n\n" + markdown_table(
                       ["truth \\ prediction"] + names, rows))

    if img:
        out.append(
            f"## Image-level verdict\n\nAn image is called *defect* when a predicted region of "
            f"a defect class has at least {img['min_area_px']} pixels, and is truly defective "
            "when its mask has a defect pixel.\n\n" + _verdict_table(img)
            + f"\nprecision {_fmt(img.get('precision'))} %, recall {_fmt(img.get('recall'))} %, "
              f"accuracy {_fmt(img.get('accuracy'))} %\n"
            + ("\nNo defect-free image in the set: false alarms are "
               + ("measured on tiles below" if tiles else "not measured")
               + " (tools/calibrate.py --tile-size calibrates on tiles).\n"
               if img.get("num_ok") == 0 else ""))
    if tiles:
        out.append(
            f"## Tile-level verdict\n\nThe images cut into {tiles['tile_px']} px tiles. A "
            "tile with a true defect pixel is *found* when a predicted defect pixel in it lies "
            f"within {tiles['tolerance_px']} px of a true one; a defect-free tile is a *false "
            f"alarm* when a predicted region of at least {tiles['min_area_px']} pixels lies "
            f"farther than {tiles['tolerance_px']} px from every true defect pixel.\n\n"
            + _verdict_table(tiles)
            + f"\nfalse alarms on {_fmt(tiles.get('false_alarm_rate'))} % of the defect-free "
              f"tiles; recall {_fmt(tiles.get('recall'))} %, precision "
              f"{_fmt(tiles.get('precision'))} %\n")
    return "\n".join(out)


def _verdict_table(level: dict) -> str:
    """The 2 x 2 table of OK / defect verdicts (image_level or tile_level) against the truth."""
    return markdown_table(["", "predicted defect", "predicted OK"],
                          [["truly defective", level["TP"], level["FN"]],
                           ["truly OK", level["FP"], level["TN"]]])


def write_csv(rows: Sequence[dict], path: str) -> None:
    """Write dict rows as CSV, columns in the order of the first row's keys.

    Args:
        rows (Sequence[dict]): rows with the same keys.
        path (str): output file (overwritten).
    """
    fields = list(rows[0].keys()) if rows else ["image"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
