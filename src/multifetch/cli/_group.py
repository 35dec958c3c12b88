"""The ``multifetch`` command group and its single error boundary."""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from .._errors import SettingError, UsageError
from .._version import __version__
from ._exit import CLIError, Exit, Terminated, how_to_go_on, interrupted_while_starting, terminated


class _Group(click.Group):
    """Turns every error into one line and a documented exit status (``--traceback`` for more)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if signal.getsignal(signal.SIGINT) is interrupted_while_starting:  # Ctrl-C is caught below now
                signal.signal(signal.SIGINT, signal.default_int_handler)
            if signal.getsignal(signal.SIGTERM) is interrupted_while_starting:  # and SIGTERM
                signal.signal(signal.SIGTERM, terminated)
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad option value, an unknown option: one line too
            _fail(ctx, exc.format_message(), Exit.USAGE)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except CLIError as exc:
            _fail(ctx, str(exc), exc.status)
        except SettingError as exc:  # named as the command line spells it
            _fail(ctx, f"{', '.join(_flag(n) for n in exc.names)}: {exc.problem}", Exit.USAGE)
        except UsageError as exc:
            _fail(ctx, str(exc), _status_of(exc))
        except KeyboardInterrupt:  # outside the run's own handler: e.g. reading an output to resume
            _fail(ctx, f"interrupted{how_to_go_on()}", Exit.SIGINT)
        except Terminated:
            _fail(ctx, f"terminated{how_to_go_on()}", Exit.SIGTERM)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (`| head`): not an error worth a word
            ctx.exit(Exit.OK)
        except Exception as exc:
            hint = " (rerun with --traceback)"
            if ctx.meta.get("traceback"):
                import traceback

                traceback.print_exc()
                hint = ""
            _fail(ctx, f"internal error: {type(exc).__name__}: {exc}{hint}", Exit.INTERNAL)


#: The flags whose names are not their setting's.
_FLAGS = {"auth": "--user", "client_cert": "--cert", "secret_headers": "--secret-header",
          "max_redirects": "--max-redirs", "follow_redirects": "--no-location"}


def _flag(setting: str) -> str:
    return _FLAGS.get(setting, "--" + setting.replace("_", "-"))


def _status_of(exc: UsageError) -> Exit:
    from ..inputs._sources import InputError
    from ..outputs._resume import ResumeMismatch

    if isinstance(exc, InputError):
        return Exit.INPUT
    return Exit.RESUME_MISMATCH if isinstance(exc, ResumeMismatch) else Exit.USAGE


def _fail(ctx: click.Context, message: str, status: int) -> None:
    from ._terminal import safe_text

    click.echo(f"multifetch: error: {safe_text(message)}", err=True)
    ctx.exit(int(status))


def _traceback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:  # ctx.meta is shared by the group and its commands: either may say it
        ctx.meta["traceback"] = True
    return value


def _traceback_option() -> click.Option:
    return click.Option(["--traceback"], is_flag=True, expose_value=False, is_eager=True, callback=_traceback,
                        help="On an unexpected error, show the full Python traceback.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="multifetch")
def cli() -> None:
    """Make many HTTP requests concurrently: fast, polite, and never losing a result.

    \b
    Examples:
      multifetch fetch urls.txt -o results.jsonl
      multifetch fetch specs.jsonl -c 200 --per-host 16 --rate 100/s -o results.db
      multifetch report results.jsonl -o report.html
      multifetch serve --port 8000          # a local server to rehearse against
    """


def _register() -> None:
    from ._fetch import fetch
    from ._report import report
    from ._serve import serve

    cli.params.append(_traceback_option())
    for command in (fetch, report, serve):
        command.params.append(_traceback_option())  # accepted after the command's name too
        cli.add_command(command)


_register()
