"""`niah rope ...`: inspect the RoPE variant registry, positions, allocations and figures."""

from __future__ import annotations

import json
import math

import click

from niah.errors import NiahError
from niah.rope import VARIANTS, properties, resolve_variant
from niah.rope.modifiers import MODIFIERS, Modifier
from niah.rope.options import fmt
from niah.rope.properties import allocation_summary


@click.group()
def rope() -> None:
    """The RoPE variants: list them, print their position ids and frequency allocation, plot them.

    A variant is named with options inline, the same everywhere: e.g. videorope:delta=1.5,alloc=high,
    and context-extension modifiers appended with +: m-rope+yarn:factor=4, videorope+theta=5e6.
    """


@rope.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def list_variants(as_json: bool) -> None:
    """The registered variants as VideoRoPE's Table 1 (3-D structure, temporal frequencies,
    spatial symmetry, temporal index scaling), computed from the registry.

    \b
    Examples:
      niah rope list
      niah rope list --json | jq '.[].name'
      niah --plugin my_rope.py rope list     # with your own registered variant
    """
    from niah.model_families import MODEL_FAMILIES

    rows = []
    for name, spec in VARIANTS.items():
        row = properties(resolve_variant(name), spec.description).as_dict()
        native = [f.name + (f" as {f.native_variant}" if ":" in f.native_variant else "")  # with its options, if any
                  for f in MODEL_FAMILIES.values() if f.native_variant.split(":")[0] == name]
        row.update(name=name, options=dict(spec.defaults), paper=spec.paper, equation=spec.equation, native_in=native)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    yes = {True: "✓", False: "✗"}
    header = ("variant", "3-D", "temporal freqs", "symmetric", "temporal scaling", "options")
    table = [
        (
            r["name"],
            yes[r["structure_3d"]],
            r["temporal_frequencies"],
            yes[r["spatial_symmetry"]],
            r["temporal_index_scaling"],
            ",".join(f"{k}={fmt(v)}" for k, v in VARIANTS[r["name"]].defaults.items()) or "-",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=False)]
    for line in (header, *table):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
    natives = [f"{r['name']} ({', '.join(r['native_in'])})" for r in rows if r["native_in"]]
    click.echo("\nNative to the hf model families (their own positions and allocation): " + "; ".join(natives))
    click.echo("\nModifiers, appended to any variant (e.g. m-rope+yarn:factor=4+theta=5e6):")
    width = max(len(name) for name in MODIFIERS) + 1
    for spec in MODIFIERS.values():
        click.echo(f"  {'+' + spec.name:<{width}}  {spec.description}; default {Modifier(spec, spec.defaults).text}")
    click.echo("\nDetails: niah rope list --json (paper, equation, description per variant).")


@rope.command()
@click.argument("variant")
@click.option("--layout", required=True, help="Token runs, e.g. text:5,video:4x9x16@2,text:20.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"variant", "layout", "axes", "position_ids": [one row per coordinate]} as JSON.')
def positions(variant: str, layout: str, as_json: bool) -> None:
    """Position ids (N, L) of VARIANT for a token LAYOUT: one row per coordinate, t, h, w for most
    variants, p0..p3 for vrope.

    \b
    Examples:
      niah rope positions videorope --layout text:3,video:2x2x2,text:2
      niah rope positions vrope --layout text:2,image:3x3,text:2
      niah rope positions videorope:delta=1 --layout text:5,video:4x9x16@2,text:20 --json
    """
    v = resolve_variant(variant)
    ids = v.position_array(layout).tolist()
    if as_json:
        click.echo(json.dumps({"variant": variant, "layout": layout, "axes": list(v.axes), "position_ids": ids}))
        return
    width = max(len(a) for a in v.axes)
    for axis, row in zip(v.axes, ids, strict=True):
        click.echo(f"{axis:>{width}}: " + " ".join(f"{p:g}" for p in row))


@rope.command()
@click.argument("variant")
@click.option("--head-dim", default=128, show_default=True, help="Attention head dimension (dims per head).")
@click.option("--partial-rotary", default=1.0, show_default=True, type=float,
              help="Fraction of each head that rotates (Qwen3.5, GLM-4.1V: 0.25 or 0.5); the allocation is "
                   "formed over the first ⌊head_dim·fraction⌋ dims.")
@click.option("--section", help="Pairs per axis t,h,w (a checkpoint's mrope_section, e.g. 11,11,10); default: "
                                "the variant's published proportions.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"t": [pairs], "h": [...], "w": [...], "none": [...]} as JSON; "axes" when the '
                   'coordinates are not t, h, w; {"heads": [...]} when it differs per KV head; "rotary_dim" '
                   "under partial rotary.")
def allocation(variant: str, head_dim: int, partial_rotary: float, section: str | None, as_json: bool) -> None:
    """Which frequency pairs (0 = highest frequency) each coordinate of VARIANT drives, per KV
    head where the variant allocates per head (mhrope).

    \b
    Examples:
      niah rope allocation m-rope
      niah rope allocation videorope --head-dim 64 --json
      niah rope allocation mrope-interleaved --head-dim 256 --partial-rotary 0.25 --section 11,11,10
      niah rope allocation mhrope --json
    """
    counts = _section(section) if section else None
    out = allocation_summary(resolve_variant(variant), head_dim, partial_rotary, counts)
    if as_json:
        click.echo(json.dumps(out))
        return
    if "rotary_dim" in out:
        click.echo(f"rotary dims 0–{out['rotary_dim'] - 1} of {head_dim}; dims {out['rotary_dim']}–{head_dim - 1} "
                   "pass through unrotated")  # fmt: skip
    for head, pairs_of in enumerate(out.get("heads", [out])):
        prefix = f"KV head {head} " if "heads" in out else ""
        for name, pairs in pairs_of.items():
            if name not in ("axes", "rotary_dim") and (pairs or "heads" not in out):
                click.echo(f"{prefix}{name}: {len(pairs)} pairs: {' '.join(map(str, pairs))}")


def _section(text: str) -> list[int]:
    """'11,11,10' → [11, 11, 10]: three pair counts t, h, w in order."""
    try:
        counts = [int(v) for v in text.split(",")]
    except ValueError:
        counts = []
    if len(counts) != 3 or min(counts) < 0:
        raise NiahError(f"--section '{text}': give three pair counts t,h,w, e.g. 16,24,24")
    return counts


def _base(value: float) -> float:
    if not (math.isfinite(value) and value > 1):
        raise NiahError(f"--base {value:g}: RoPE's theta must be a finite number above 1, e.g. 10000 or 1e6")
    return value


@rope.command()
@click.argument("variants", nargs=-1, required=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Figure file: .png, .pdf or .svg.")
@click.option("--head-dim", default=128, show_default=True, type=click.IntRange(min=4),
              help="Attention head dimension (dims per head).")  # fmt: skip
@click.option("--base", default=1_000_000.0, show_default=True, callback=lambda ctx, param, value: _base(value),
              help="RoPE theta, a finite number above 1 (Qwen2-VL: 1e6).")  # fmt: skip
@click.option(
    "--layout",
    default="text:2,video:4x3x3,text:2",
    show_default=True,
    help="Small layout drawn in the 3-D position panel.",
)
def plot(variants: tuple[str, ...], out: str, head_dim: int, base: float, layout: str) -> None:
    """Frequency-allocation and 3-D position figure of one or more VARIANTS (VideoRoPE Figs. 4, 6).

    \b
    Examples:
      niah rope plot vanilla m-rope videorope --out rope.png
      niah rope plot videorope:delta=1 videorope:delta=2 --out delta.pdf --head-dim 64
    """
    from niah.plot.rope_figures import save_rope_figure

    path = save_rope_figure([resolve_variant(v) for v in variants], out, head_dim, base, layout)
    click.echo(path)
