"""The `niah` command: a click group whose subcommands are thin layers over the library.

Every NiahError (bad input) becomes one line on stderr and exit code 2. A subcommand's module is
imported only when that subcommand runs (COMMANDS), so `niah --help` and `niah rope list` start
without torch, matplotlib or OpenCV.
"""

from __future__ import annotations

import importlib
import runpy
import sys
import warnings
from pathlib import Path

import click

from niah import __version__
from niah.errors import NiahError, NiahWarning, full_disk_error, unknown

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("niah.cli.demo:demo", "Dataset, tiny trained models, heatmaps: the loop in ~10 s."),
    "generate": ("niah.cli.generate:generate", "Make a V-NIAH / V-NIAH-D dataset dir."),
    "inspect": ("niah.cli.generate:inspect", "Summarise a dataset dir; questions, contact sheets."),
    "audit": ("niah.cli.audit:audit", "Check that no blind rule (text, frequency, frame) beats chance."),
    "run": ("niah.cli.run:run", "Sweep a model over cells × RoPE variants × tasks."),
    "plot": ("niah.cli.plot:plot", "Heatmaps, grids, difference maps, tables of runs."),
    "report": ("niah.cli.report:report", "One offline HTML file to browse runs sample by sample."),
    "compare": ("niah.cli.compare:compare", "Paired difference of two variants or runs, with interval and p."),
    "import": ("niah.cli.imports:import_", "Published accuracies or lmms-eval's samples as a run dir."),
    "export": ("niah.cli.export:export", "A dataset as Hub Parquet, card and lmms-eval tasks."),
    "train": ("niah.cli.train:train", "Train tiny models per RoPE variant and seed (CPU)."),
    "rope": ("niah.cli.rope:rope", "RoPE variants: list, positions, allocation, plot."),
}
"""Subcommand → ("module:attribute" of its click command, its one-line help for `niah --help`)."""


class NiahGroup(click.Group):
    """A click group that loads its subcommands on first use (COMMANDS) and turns NiahError, and a
    full disk anywhere, into a one-line message and exit code 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return super().get_command(ctx, name)
        where, short_help = COMMANDS[name]
        module, attribute = where.split(":")
        command = getattr(importlib.import_module(module), attribute)
        command.short_help = short_help
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """An unknown subcommand fails naming the close ones (click's own hint sees only loaded ones)."""
        if args and not args[0].startswith("-") and args[0] not in self.list_commands(ctx):
            ctx.fail(str(unknown("command", args[0], self.list_commands(ctx))))
        return super().resolve_command(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from COMMANDS' one-liners: nothing is imported to print it."""
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.get_command(ctx, name).get_short_help_str())
                for name in self.list_commands(ctx)]  # fmt: skip
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", NiahWarning)
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except NiahError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except OSError as err:
            full = full_disk_error(err)
            if full is None:
                raise
            click.echo(f"error: {full}", err=True)
            sys.exit(2)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """NiahWarnings as one 'warning: ...' line on stderr; any other warning as Python prints it."""
    if issubclass(category, NiahWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


PLUGINS: list[str] = []
"""The plugin files this process ran (absolute paths), for the workers of `niah run --gpus`."""


def _load_plugins(ctx: click.Context, param: click.Parameter, paths: tuple[str, ...]) -> None:
    PLUGINS.clear()
    for path in paths:
        try:
            runpy.run_path(path)
        except FileNotFoundError:
            raise click.BadParameter(f"plugin file '{path}' does not exist") from None
        PLUGINS.append(str(Path(path).resolve()))


@click.group(cls=NiahGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="niah")
@click.option(
    "--plugin",
    multiple=True,
    type=click.Path(dir_okay=False),
    expose_value=False,
    is_eager=True,
    callback=_load_plugins,
    help="Python file run before the command, e.g. to register_variant() your own RoPE variant.",
)
def main() -> None:
    """Needle-in-a-haystack benchmarks for the positional encodings of video LLMs.

    \b
    The loop:  niah generate → niah run → niah plot | niah report   (niah demo chains them)
    Papers:    niah import longva all_accuracies.json → niah plot runs/mine references/videorope
    Models:    niah train (tiny models per RoPE variant, CPU) → niah run --model tiny:DIR
    RoPE:      niah rope list | positions | allocation | plot
    """
