"""Run one shard of a Python job: ``python -m elasticjob.sdk.runner`` (the agent's side of the contract).

The agent starts this module for SIMPLE and DATAFLOW jobs, with the unpacked app as the working
directory and this environment:

    the sharding context variables (see ``elasticjob.sdk``)
    ELASTICJOB_JOB_TYPE           SIMPLE or DATAFLOW
    ELASTICJOB_JOB_CLASS          "package.module:attribute" (the attribute may be dotted: "mod:Outer.Job")
    ELASTICJOB_STREAMING_PROCESS  "true" or "false" (DATAFLOW only; absent means false)

The working directory, then its ``src/`` and ``lib/`` directories when they exist, go first on
``sys.path`` (so an app must not ship a top-level package named ``elasticjob``). Then:

- SIMPLE: a class is instantiated with no arguments and its ``execute(context)`` called; a function (any
  other callable) is called with the context; an object with an ``execute`` method has it called.
- DATAFLOW: a class is instantiated with no arguments (or an object is used as it is); ``fetch_data(context)``
  is called and, if it returns a non-empty list, ``process_data(context, items)``. Not streaming: once.
  Streaming: again and again until ``fetch_data`` returns an empty list (``None`` counts as empty).

Exit status — the agent maps it to the task's state:

    0    success (also when the job itself calls ``sys.exit(0)``)
    1    the job failed: it raised (traceback of the job's code on stderr), called ``sys.exit`` with a
         non-zero status, or ``fetch_data`` returned something that is not a list of items
    2    bad configuration, found before any job method (execute, fetch_data) is called: a sharding
         context or ELASTICJOB_* variable missing or invalid, the module cannot be imported (not found,
         a missing dependency, a syntax error), the attribute is missing or of the wrong kind (e.g. a
         class that needs constructor arguments). One line on stderr, starting "elasticjob runner: ".
    3    MemoryError anywhere ("elasticjob runner: memory limit exceeded" on stderr): report it as a
         memory failure, retrying with the same ``memoryMB`` will likely fail again
    143  terminated by SIGTERM: the runner raises ``SystemExit(143)`` in the job, so its ``finally``
         blocks and context managers run before the process ends. Non-daemon threads the job started
         still keep the process alive until they end, so the agent should follow up with SIGKILL after a
         grace period.

stdout and stderr are line-buffered so a shard's log is current even if the process is killed.
"""

from __future__ import annotations

import difflib
import enum
import importlib
import inspect
import os
import re
import signal
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from elasticjob.sdk import ShardingContext, ShardingContextError

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_CONFIGURATION = 2
EXIT_MEMORY_LIMIT = 3
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, the shell's convention for "killed by SIGTERM"

ENV_JOB_TYPE = "ELASTICJOB_JOB_TYPE"
ENV_JOB_CLASS = "ELASTICJOB_JOB_CLASS"
ENV_STREAMING_PROCESS = "ELASTICJOB_STREAMING_PROCESS"

_JOB_CLASS_RE = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)")
_PREFIX = "elasticjob runner: "


class JobType(enum.StrEnum):
    SIMPLE = "SIMPLE"
    DATAFLOW = "DATAFLOW"


class BadConfiguration(Exception):
    """The shard cannot start as configured (exit 2); the message is the whole explanation."""


class JobContractError(Exception):
    """The job ran but broke the runner's contract, e.g. ``fetch_data`` returned an int (exit 1)."""


class Terminated(SystemExit):
    """Raised inside the job by the SIGTERM handler; a ``SystemExit`` so only ``finally`` blocks see it."""


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run the shard described by ``environ`` (default ``os.environ``) and return the exit status.

    Must be called from the main thread (it installs a SIGTERM handler, restored on return).
    """
    env = os.environ if environ is None else environ
    _line_buffered(sys.stdout)
    _line_buffered(sys.stderr)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run_reporting(env)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_reporting(env: Mapping[str, str]) -> int:
    try:
        run_shard(env, Path.cwd())
    except BadConfiguration as exc:
        _say(str(exc))
        return EXIT_BAD_CONFIGURATION
    except MemoryError:
        _say("memory limit exceeded")
        return EXIT_MEMORY_LIMIT
    except Terminated:
        _say("terminated by SIGTERM")
        return EXIT_TERMINATED
    except SystemExit as exc:  # the job called sys.exit(): keep 2, 3 and 143 meaning what they say
        if exc.code is None or exc.code == 0:
            return EXIT_OK
        _say(f"the job called sys.exit({exc.code!r})")
        return EXIT_JOB_FAILED
    except JobContractError as exc:
        _say(str(exc))
        return EXIT_JOB_FAILED
    except Exception as exc:
        _print_job_traceback(exc)
        return EXIT_JOB_FAILED
    return EXIT_OK


def run_shard(env: Mapping[str, str], app_dir: Path) -> None:
    """Configure, import and run the job. Raises ``BadConfiguration`` before any job method runs, else
    whatever the job raises."""
    job_type = _job_type(env)
    module_name, attribute = _job_class(env)
    streaming = _streaming(env) if job_type is JobType.DATAFLOW else False
    try:
        context = ShardingContext.from_env(env)
    except ShardingContextError as exc:
        raise BadConfiguration(str(exc)) from None
    searched = _put_app_on_path(app_dir)
    target = _resolve(module_name, attribute, searched)
    spec = f"{module_name}:{attribute}"
    if job_type is JobType.SIMPLE:
        _simple_entry(target, spec)(context)
    else:
        fetch, process = _dataflow_methods(target, spec)
        run_dataflow(fetch, process, context, streaming=streaming, spec=spec)


def run_dataflow(fetch: Callable[[ShardingContext], Any],
                 process: Callable[[ShardingContext, list[Any]], Any],
                 context: ShardingContext, *, streaming: bool, spec: str = "the job") -> int:
    """Fetch and process batches as described in the module docstring; return how many were processed."""
    batches = 0
    while True:
        items = _as_items(fetch(context), spec)
        if not items:
            return batches
        process(context, items)
        batches += 1
        if not streaming:
            return batches


# --- configuration ---------------------------------------------------------------------------------------


def _job_type(env: Mapping[str, str]) -> JobType:
    value = env.get(ENV_JOB_TYPE)
    if not value:
        raise BadConfiguration(f"environment variable {ENV_JOB_TYPE} is not set (SIMPLE or DATAFLOW)")
    try:
        return JobType(value.strip().upper())
    except ValueError:
        raise BadConfiguration(f"{ENV_JOB_TYPE}={value!r}: this runner runs SIMPLE and DATAFLOW jobs only "
                               f"(SCRIPT jobs run their command line)") from None


def _job_class(env: Mapping[str, str]) -> tuple[str, str]:
    value = env.get(ENV_JOB_CLASS)
    if not value:
        raise BadConfiguration(f"environment variable {ENV_JOB_CLASS} is not set "
                               f"(expected 'package.module:attribute')")
    match = _JOB_CLASS_RE.fullmatch(value.strip())
    if match is None:
        raise BadConfiguration(f"{ENV_JOB_CLASS}={value!r} is not of the form 'package.module:attribute'")
    return match.group(1), match.group(2)


def _streaming(env: Mapping[str, str]) -> bool:
    value = env.get(ENV_STREAMING_PROCESS, "").strip().lower()
    if value in ("", "false"):
        return False
    if value == "true":
        return True
    raise BadConfiguration(f"{ENV_STREAMING_PROCESS}={env[ENV_STREAMING_PROCESS]!r} "
                           f"must be 'true' or 'false'")


def _put_app_on_path(app_dir: Path) -> list[str]:
    """Put the app's directories first on ``sys.path``; return them."""
    entries = [str(app_dir)] + [str(app_dir / sub) for sub in ("src", "lib") if (app_dir / sub).is_dir()]
    sys.path[:] = entries + [p for p in sys.path if p not in entries and p not in ("", ".")]
    return entries


# --- resolving the job -----------------------------------------------------------------------------------


def _resolve(module_name: str, attribute: str, searched: list[str]) -> Any:
    target: Any = _import(module_name, searched)
    parts = attribute.split(".")
    for depth, part in enumerate(parts):
        if not hasattr(target, part):
            owner = module_name if depth == 0 else f"{module_name}:{'.'.join(parts[:depth])}"
            names = [n for n in dir(target) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BadConfiguration(f"{ENV_JOB_CLASS}: {owner!r} has no attribute {part!r}{hint}")
        target = getattr(target, part)
    return target


def _import(module_name: str, searched: list[str]) -> types.ModuleType:
    """Import the job's module. Import-time failures that mean "this app cannot run as configured" become
    ``BadConfiguration``; any other exception raised by the module's top-level code propagates (exit 1)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise BadConfiguration(f"cannot import module {module_name!r}: no module named {exc.name!r} "
                                   f"in {', '.join(searched)} or the installed packages") from None
        raise BadConfiguration(f"cannot import module {module_name!r}: {exc}{_where(exc)}") from None
    except ImportError as exc:
        raise BadConfiguration(f"cannot import module {module_name!r}: {exc}{_where(exc)}") from None
    except SyntaxError as exc:
        raise BadConfiguration(f"cannot import module {module_name!r}: "
                               f"{exc.__class__.__name__}: {exc}") from None


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_machinery(f.filename)]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""


def _simple_entry(target: Any, spec: str) -> Callable[[ShardingContext], Any]:
    if inspect.isclass(target):
        instance = _instantiate(target, spec, ("execute",))
        return _checked(instance.execute, 1, f"{spec}.execute", "(context)")
    execute = getattr(target, "execute", None)
    if callable(execute):
        return _checked(execute, 1, f"{spec}.execute", "(context)")
    if callable(target):
        return _checked(target, 1, spec, "(context)")
    raise BadConfiguration(f"{spec} is a {type(target).__name__}, not a class or function; a SIMPLE job is "
                           f"a class with execute(self, context) or a function taking the context")


def _dataflow_methods(target: Any, spec: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    methods = ("fetch_data", "process_data")
    if inspect.isclass(target):
        instance = _instantiate(target, spec, methods)
    elif all(callable(getattr(target, name, None)) for name in methods):
        instance = target
    else:
        raise BadConfiguration(f"{spec} is a {type(target).__name__}; a DATAFLOW job is a class with "
                               f"fetch_data(self, context) and process_data(self, context, items)")
    return (_checked(instance.fetch_data, 1, f"{spec}.fetch_data", "(context)"),
            _checked(instance.process_data, 2, f"{spec}.process_data", "(context, items)"))


def _instantiate(cls: type, spec: str, methods: tuple[str, ...]) -> Any:
    missing = [name for name in methods if not callable(getattr(cls, name, None))]
    if missing:
        raise BadConfiguration(f"class {spec} has no method {', '.join(missing)}")
    if inspect.isabstract(cls):
        abstract = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
        raise BadConfiguration(f"class {spec} is abstract: implement {abstract}")
    try:
        inspect.signature(cls).bind()
    except TypeError:
        raise BadConfiguration(f"class {spec} cannot be created without arguments: "
                               f"{spec.rpartition(':')[2]}{inspect.signature(cls)}") from None
    except ValueError:  # no signature to inspect (some builtins); let the call decide
        pass
    return cls()  # the job's own __init__: an exception here is the job failing (exit 1)


def _checked(func: Callable[..., Any], arity: int, name: str, expected: str) -> Callable[..., Any]:
    """``func`` if it can be called with ``arity`` positional arguments, else ``BadConfiguration``."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # not introspectable: let the call decide
        return func
    try:
        signature.bind(*([None] * arity))
    except TypeError:
        raise BadConfiguration(f"{name}{signature} cannot be called as {name}{expected}") from None
    return func


def _as_items(result: Any, spec: str) -> list[Any]:
    if result is None:
        return []
    if isinstance(result, list):
        return result
    if isinstance(result, str | bytes | Mapping) or not hasattr(result, "__iter__"):
        raise JobContractError(f"{spec}.fetch_data returned a {type(result).__name__}; "
                               f"expected a list of items")
    return list(result)


# --- process plumbing ------------------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: types.FrameType | None) -> None:
    raise Terminated(EXIT_TERMINATED)


def _line_buffered(stream: Any) -> None:
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(line_buffering=True)


def _say(message: str) -> None:
    print(_PREFIX + message, file=sys.stderr, flush=True)


def _is_machinery(filename: str) -> bool:
    """Frames of this runner and of importlib: noise in a job author's traceback."""
    return (filename == __file__ or filename.startswith("<frozen importlib")
            or filename == importlib.__file__)


def _print_job_traceback(exc: BaseException) -> None:
    """The traceback from the job's first frame on (the runner's own frames say nothing to its author)."""
    tb = exc.__traceback__
    while tb is not None and _is_machinery(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb if tb is not None else exc.__traceback__, file=sys.stderr)
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
