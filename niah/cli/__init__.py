"""The `niah` command: a click group whose subcommands are thin layers over the library.

Every NiahError (bad input) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import runpy
import sys
import warnings
from pathlib import Path

import click

from niah import __version__
from niah.errors import NiahError, NiahWarning, full_disk_error


class NiahGroup(click.Group):
    """A click group that turns NiahError, and a full disk anywhere, into a one-line message and
    exit code 2."""

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


def _register() -> None:
    from niah.cli.demo import demo
    from niah.cli.generate import generate, inspect
    from niah.cli.imports import import_
    from niah.cli.plot import plot
    from niah.cli.report import report
    from niah.cli.rope import rope
    from niah.cli.run import run
    from niah.cli.train import train

    for command in (demo, generate, run, plot, report, inspect, import_, rope, train):
        main.add_command(command)


_register()
