"""`niah generate` and `niah inspect`: make a V-NIAH / V-NIAH-D dataset dir and look at it."""

from __future__ import annotations

import click
from tqdm import tqdm

from niah.cli.audit import audit_with_bar
from niah.data.audit import verdict
from niah.data.dataset import Dataset
from niah.data.families import DISTRACTOR_KINDS, NEEDLE_FAMILIES
from niah.data.generate import generate as generate_dataset
from niah.data.generate import resolve_config
from niah.data.grid import DISTRACTOR_MODES
from niah.data.inspect import contact_sheet, distractor_warning, family_warning, find_cell, questions, summary
from niah.data.inspect import needles_sheet as needles_sheet_png
from niah.data.needle_files import ready_sets
from niah.data.presets import describe, preset_names


def _preset_help() -> str:
    return "Haystack recipe to start from: a name or a recipe .json path (default: base = longva grid). " + "; ".join(
        f"{name}: {describe(name)}" for name in preset_names()
    )


class _Bars:
    """One tqdm bar per stage (haystack, materialize), with rate and ETA."""

    def __init__(self, quiet: bool):
        self.quiet, self.bars = quiet, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        bar = self.bars.get(stage) or self.bars.setdefault(
            stage, tqdm(total=total, desc=stage, unit="frame" if stage == "haystack" else "cell")
        )
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@click.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset dir to create.")
@click.option("--preset", help=_preset_help())
@click.option("--seed", type=int, help="Seed of the synthetic haystack and the needles.")
@click.option("--video", type=click.Path(dir_okay=False), help="Use your own video as the haystack.")
@click.option("--frames", "frames_dir", type=click.Path(file_okay=False), help="Use a folder of images (name order).")
@click.option("--fps", type=float, help="Frames per second sampled from --video (default 1).")
@click.option("--loop", is_flag=True, default=None, help="Repeat a video/folder shorter than the longest length.")
@click.option("--allow-truncated", is_flag=True, default=None,
              help="Use the frames a truncated video has (it ends before its stated duration) instead of "
              "failing.")  # fmt: skip
@click.option("--lengths", help="Haystack lengths in frames: 16,32,64 or start:stop:step.")
@click.option("--depths", help="Needle depths in percent: 0,50,100 or 0:100:10.")
@click.option("--needles-per-cell", "needles", type=int, help="Built-in needles; each runs in every cell.")
@click.option("--families", help=f"Built-in needle families, comma-separated: {','.join(NEEDLE_FAMILIES)}.")
@click.option(
    "--needles",
    "needle_file",
    help="Your own needles, or a ready set's name (needles/: " + ", ".join(sorted(ready_sets())) + "): niah JSONL "
    "(image, find + ask or question, options, answer, distractors with lures), LongVA's or VideoRoPE's JSON.",
)
@click.option("--distractor-period", type=int, help="V-NIAH-D: look-alikes N frames apart (default 200).")
@click.option(
    "--distractor-mode",
    type=click.Choice(list(DISTRACTOR_MODES)),
    help="periodic: look-alikes at needle ± k·period on both sides (default); grid: at period, 2·period, ... "
    "whatever the depth; single: VideoRoPE's released code (one, period frames before or after the needle, "
    "none where neither fits).",
)
@click.option(
    "--distractor-kind",
    type=click.Choice(DISTRACTOR_KINDS),
    help="Built-in needles: near (same scene, another key shape or colour: hardest; default) or scene (another "
    "scene without the key object, VideoRoPE's kind). Each shows a wrong option (a lure) or, as a decoy, the "
    "answer, so option frequencies give nothing away.",
)
@click.option("--tasks", help="Tasks to build cells for, comma-separated (default v-niah,v-niah-d: the retrieval "
              "cells). Multi-needle tasks add their own cells: ordering (3 needles: in which order?), counting (a key "
              "in 0-5 of 6 inserted frames, look-alikes in the rest: how many?), distance (2 needles, the second "
              "axis is their distance in % of the length: which first?). E.g. --tasks v-niah,ordering,distance.")
@click.option("--width", type=int, help="Frame width in pixels (default 448).")
@click.option("--height", type=int, help="Frame height in pixels (default 252).")
@click.option("--materialize", is_flag=True, default=None, help="Also write one MP4 per cell + questions.jsonl.")
@click.option("--force", is_flag=True, help="Replace an existing different dataset at --out.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def generate(out, preset, video, frames_dir, force, quiet, **options) -> None:
    """Generate a V-NIAH / V-NIAH-D dataset dir: haystack video, needles, distractors, cells.

    \b
    Examples:
      niah generate --preset demo --out data/demo
      niah generate --preset longva --out data/longva --seed 1
      niah generate --video movie.mp4 --fps 1 --lengths 200:2000:200 --out data/movie
      niah generate --preset demo --tasks v-niah,v-niah-d,ordering,counting,distance --out data/multi
    The same command and seed rebuild the same files bit for bit; rerunning reuses an identical dataset.
    """
    if video and frames_dir:
        raise click.UsageError("give --video or --frames, not both")
    if video or frames_dir:
        options.update(haystack="video" if video else "frames", source=video or frames_dir)
    config = resolve_config(preset, **options)
    bars = _Bars(quiet)
    try:
        path = generate_dataset(out, config, force=force, progress=bars)
    finally:
        bars.close()
    dataset = Dataset(path)
    click.echo(summary(dataset))
    for warning in (distractor_warning(dataset), family_warning(dataset)):
        if warning:
            click.echo(warning, err=True)
    click.echo(f"{verdict(audit_with_bar(dataset, quiet))} (details: niah audit {path})")


@click.command()
@click.argument("dataset", type=click.Path())
@click.option("--sheet", type=click.Path(dir_okay=False), help="Write a contact sheet PNG of one cell.")
@click.option("--cell", "cell_id", help="Cell id for --sheet (default: the one with the most distractors).")
@click.option("--needles-sheet", type=click.Path(dir_okay=False),
              help="Write a PNG with every needle beside its distractors (lures, find-clause check).")
def inspect(dataset: str, sheet: str | None, cell_id: str | None, needles_sheet: str | None) -> None:
    """Summarise a dataset dir and print its questions; --sheet draws one cell.

    \b
    The sheet shows the needle beside its distractors (each with its lure and whether it
    satisfies the find clause), then the cell's frames in order, needle green, distractors red.
    Examples:
      niah inspect data/demo
      niah inspect data/demo --sheet cell.png --cell L64-d33-n000-colour
      niah inspect data/demo --needles-sheet needles.png
    """
    ds = Dataset(dataset)
    click.echo(summary(ds))
    click.echo("")
    click.echo(questions(ds))
    if sheet:
        cell = find_cell(ds, cell_id)
        written = contact_sheet(ds, cell, sheet)
        click.echo(f"sheet        {written} (cell {cell.id}: needle green, lures red, decoys amber)")
    if needles_sheet:
        click.echo(f"needles      {needles_sheet_png(ds, needles_sheet)} (each needle beside its look-alikes)")
