"""Printing and judging the scan benchmark's results: fixed-width tables and the targets.

Everything here reads the result dictionary that ``scan_bench.py`` also writes as JSON, so
the printed tables and the file always say the same thing.
"""

from __future__ import annotations

from typing import Any

from scan_bench_tools import CLEAN, TIMEOUT, UNSAFE

RSS_TARGET_MB = 200.0
FAST_TARGET_S = 1.0
#: Big-file runs repeat (best of up to 3) while their total stays under this many seconds.
REPEAT_BUDGET_S = 10.0


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain fixed-width table."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)) for r in rows]
    rule = "  ".join("-" * w for w in widths)
    return "\n".join(
        ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)), rule, *lines]
    )


def pct(num: int, den: int) -> str:
    """``12.5% (1/8)``; ``n/a`` for an empty set."""
    return f"{100 * num / den:.1f}% ({num}/{den})" if den else "n/a"


def print_corpus(c: dict[str, Any]) -> None:
    """Scores and times per tool, then the per-family table and the misses."""
    print(f"\n== Corpus: {c['source']}, {c['samples']} samples")
    rows = []
    base = c["seconds"]["mlwarden (CLI/file)"]
    for name, s in c["scores"].items():
        secs = c["seconds"][name]
        rows.append(
            [
                name,
                pct(s["detected"], s["malicious"]),
                pct(s["false_positives"], s["benign"]),
                pct(s["blocked_malicious"], s["malicious"]),
                pct(s["blocked_benign"], s["benign"]),
                str(s["errors"]),
                str(s["skipped"]),
                f"{secs:.2f}",
                f"{1000 * secs / max(1, c['samples']):.0f}",
                f"{secs / base:.2f}x" if base else "",
            ]
        )
    heads = ["tool", "recall", "false pos.", "gate recall", "gate FP", "err", "skip"]
    print(table([*heads, "seconds", "ms/file", "vs CLI/file"], rows))
    print(
        "recall/FP: verdict unsafe; gate: any failing exit (unsafe, error or timeout).\n"
        "seconds: sum of per-file wall times, one process per file, "
        f"{c['workers']} files at a time; mlwarden (API): in-process, one file at a time."
    )
    m = c["mlwarden"]
    print(
        f"mlwarden timing: API per file {m['api_per_file']['seconds']:.2f} s, API one call "
        f"over the dir {m['api_dir']['seconds']:.2f} s (jobs={m['api_dir']['jobs']}), CLI one "
        f"call over the dir {m['cli_dir']['seconds']:.2f} s, CLI per file "
        f"{m['cli_per_file']['seconds']:.2f} s"
    )
    for rel, why in c["cli_dir_vs_api_mismatches"].items():
        print(f"WARNING: CLI over the dir disagrees with the per-file API on {rel}: {why}")
    names = list(c["scores"])
    rows = [
        [fam, *(f"{v[n][0]}/{v[n][1]}" + ("" if _fine(fam, v[n]) else " *") for n in names)]
        for fam, v in c["families"].items()
    ]
    print("\nPer family (reported unsafe / samples; * = a miss, or a benign file flagged):")
    print(table(["family", *names], rows))
    for name, s in c["scores"].items():
        for key, what in (("missed", "missed"), ("flagged_benign", "flagged benign")):
            if s[key]:
                print(
                    f"{name} {what} ({len(s[key])}): {', '.join(s[key][:12])}"
                    + (" ..." if len(s[key]) > 12 else "")
                )


def _fine(family: str, cell: tuple[int, int]) -> bool:
    return cell[0] == 0 if family.startswith("benign-") else cell[0] == cell[1]


def print_big(big: dict[str, Any], names: list[str]) -> None:
    """One table per big file: verdict, seconds, peak MB and the ratios to the mlwarden CLI."""
    print(
        "\n== Big files (warm page cache; seconds = wall of the whole process, best of up to 3"
        f" runs within {REPEAT_BUDGET_S:.0f} s; peak MB = max RSS of its process tree)"
    )
    for key, row in big.items():
        print(f"\n{key}: {row['file']} - {row['note']}")
        base = row["mlwarden"]
        rows = []
        for name in names:
            m = row[name]
            if "status" in m:
                rows.append([name, m["status"], "", "", "", ""])
                continue
            ratio = f"{m['seconds'] / base['seconds']:.1f}x" if "seconds" in base else ""
            mem = f"{m['rss_mb'] / base['rss_mb']:.1f}x" if "rss_mb" in base else ""
            extra = f" (scan {m['scan_seconds']:.3f})" if "scan_seconds" in m else ""
            if m["verdict"] == TIMEOUT:
                ratio = f">{ratio}"
            rows.append(
                [name, m["verdict"], f"{m['seconds']:.3f}{extra}", f"{m['rss_mb']:.0f}", ratio, mem]
            )
        print(table(["tool", "verdict", "seconds", "peak MB", "time/mlw", "RSS/mlw"], rows))


# --- targets -------------------------------------------------------------------------------


def targets(result: dict[str, Any], gib: float) -> list[dict[str, str]]:
    """PASS/FAIL/N/A for each target the run has the numbers for."""
    out = []
    corpus = result.get("corpus")
    if corpus:
        s = corpus["scores"]["mlwarden (API)"]
        tag = f" [{corpus['source']}]"
        out.append(
            _t(
                "corpus recall 100%" + tag,
                s["detected"] == s["malicious"],
                pct(s["detected"], s["malicious"]),
            )
        )
        out.append(
            _t(
                "corpus false positives 0%" + tag,
                s["false_positives"] == 0,
                pct(s["false_positives"], s["benign"]),
            )
        )
    big = result.get("big")
    if big:
        size = "" if gib == 1.0 else f" [measured at {gib} GiB; target is for 1 GiB]"
        out += _big_targets(big, size)
    return out


def _big_targets(big: dict[str, Any], size: str) -> list[dict[str, str]]:
    """The big-file targets; a run of mlwarden that did not end clean fails every one."""
    mine, peer = big["pickle"]["mlwarden"], big["pickle"].get("picklescan", {})
    clean = mine["verdict"] == CLEAN
    name = "raw pickle: faster than picklescan" + size
    if peer.get("verdict") in (CLEAN, UNSAFE, TIMEOUT):
        got = f"mlwarden {mine['seconds']:.2f} s vs picklescan {peer['seconds']:.2f} s"
        out = [_t(name, clean and mine["seconds"] < peer["seconds"], got)]
    else:
        why = peer.get("status") or f"picklescan {peer.get('verdict')}"
        out = [{"target": name, "status": "N/A", "measured": why}]
    rss = f"{mine['rss_mb']:.0f} MB (verdict {mine['verdict']})"
    name = f"raw pickle: peak RSS < {RSS_TARGET_MB:.0f} MB" + size
    out.append(_t(name, clean and mine["rss_mb"] < RSS_TARGET_MB, rss))
    for key in ("torch", "npy", "safetensors"):
        m = big[key]["mlwarden"]
        inner = big[key]["mlwarden-api"].get("scan_seconds")
        got = f"CLI {m['seconds']:.3f} s (verdict {m['verdict']})"
        got += f", in-process {inner:.3f} s" if inner is not None else ""
        ok = m["seconds"] < FAST_TARGET_S and m["verdict"] == CLEAN
        out.append(_t(f"{key}: well under a second (CLI end to end < 1 s)" + size, ok, got))
    return out


def _t(name: str, ok: bool, measured: str) -> dict[str, str]:
    return {"target": name, "status": "PASS" if ok else "FAIL", "measured": measured}
