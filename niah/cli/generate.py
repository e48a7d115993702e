"""`niah generate` and `niah inspect`: make a V-NIAH / V-NIAH-D dataset dir and look at it."""

from __future__ import annotations

import click
from tqdm import tqdm

from niah.data.dataset import Dataset
from niah.data.generate import generate as generate_dataset
from niah.data.generate import resolve_config
from niah.data.inspect import contact_sheet, find_cell, summary
from niah.data.presets import describe, preset_names


def _preset_help() -> str:
    return "Recipe to start from (default: base = longva grid). " + "; ".join(
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
@click.option("--preset", help="demo, longva or videorope (see --help text below).")
@click.option("--seed", type=int, help="Seed of the synthetic haystack and the needles.")
@click.option("--video", type=click.Path(dir_okay=False), help="Use your own video as the haystack.")
@click.option("--frames", "frames_dir", type=click.Path(file_okay=False), help="Use a folder of images (name order).")
@click.option("--fps", type=float, help="Frames per second sampled from --video (default 1).")
@click.option("--loop", is_flag=True, default=None, help="Repeat a video/folder shorter than the longest length.")
@click.option("--lengths", help="Haystack lengths in frames: 16,32,64 or start:stop:step.")
@click.option("--depths", help="Needle depths in percent: 0,50,100 or 0:100:10.")
@click.option("--needles-per-cell", "needles", type=int, help="Built-in needles; each runs in every cell.")
@click.option("--families", help="Built-in needle families, comma-separated: colour,shape,count,number,word.")
@click.option(
    "--needles",
    "needle_file",
    type=click.Path(dir_okay=False),
    help="Your own needles: JSONL with image, question, options, answer, distractors (or LongVA fields).",
)
@click.option("--distractor-period", type=int, help="V-NIAH-D: a distractor every N frames (default 200).")
@click.option(
    "--distractor-mode",
    type=click.Choice(["periodic", "single"]),
    help="periodic (VideoRoPE's description) or single (VideoRoPE's code: one, period frames away).",
)
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
    click.echo(summary(Dataset(path)))


@click.command()
@click.argument("dataset", type=click.Path())
@click.option("--sheet", type=click.Path(dir_okay=False), help="Write a contact sheet PNG of one cell.")
@click.option("--cell", "cell_id", help="Cell id for --sheet (default: the one with the most distractors).")
def inspect(dataset: str, sheet: str | None, cell_id: str | None) -> None:
    """Summarise a dataset dir (sizes, grid, counts); --sheet draws one cell's frames."""
    ds = Dataset(dataset)
    click.echo(summary(ds))
    if sheet:
        cell = find_cell(ds, cell_id)
        click.echo(f"sheet        {contact_sheet(ds, cell, sheet)} (cell {cell.id}: needle green, distractors red)")
