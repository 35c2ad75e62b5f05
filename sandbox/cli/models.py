"""`sandbox models list|show|path|pull`."""

from __future__ import annotations

import os
import sys

from sandbox.cli.common import print_json


def register(sub) -> None:
    p = sub.add_parser("models", help="list, inspect and download models (models.toml)")
    p.add_argument("--models", metavar="FILE", help="another models.toml (or set SANDBOX_MODELS)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="models in models.toml and whether each is on disk")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=list_models)
    show = msub.add_parser("show", help="one model's settings")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_model)
    path = msub.add_parser("path", help="print the GGUF file path of a model")
    path.add_argument("name")
    path.set_defaults(func=model_path)
    pull = msub.add_parser("pull", help="download a model's GGUF file from the Hugging Face hub (needs network)")
    pull.add_argument("name")
    pull.set_defaults(func=pull_model)


def _registry(args):
    from sandbox.core import config

    return config.load(args.models)


def _path_or_none(spec) -> str | None:
    from sandbox.core.errors import SandboxError

    try:
        return str(spec.local_path())
    except SandboxError:
        return None


def _row(reg, spec) -> dict:
    return {"name": spec.name, "title": spec.title, "default": spec.name == reg.default, "available": spec.available(),
            "path": _path_or_none(spec), "source": spec.source, "repo": spec.repo, "file": spec.file,
            "n_ctx": spec.n_ctx, "gpu_layers": spec.gpu_layers, "flash_attn": spec.flash_attn, "backend": "remote" if spec.url else "llama.cpp",
            **({"url": spec.url, "server_model": spec.server_model, "api_key_env": spec.api_key_env} if spec.url else {})}


def list_models(args) -> int:
    reg = _registry(args)
    rows = [_row(reg, s) for s in reg.models.values()]
    if args.json:
        print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows)
    print(f"models from {reg.path}")
    for r in rows:
        mark = "*" if r["default"] else " "
        state = ("served at " + r["url"]) if r["backend"] == "remote" else "on disk" if r["available"] else (
            "not downloaded (sandbox models pull " + r["name"] + ")")
        print(f"{mark} {r['name']:<{width}}  {r['title']}  [{state}]")
    return 0


def show_model(args) -> int:
    reg = _registry(args)
    spec = reg.get(args.name)
    row = _row(reg, spec) | {"sampling": spec.sampling.to_dict()} | _capabilities(spec)
    if args.json:
        print_json(row)
    else:
        for k, v in row.items():
            print(f"{k:>10}: {v}")
    return 0


def _capabilities(spec) -> dict:
    """What the model's engine can do: for a served model, asked of the server (its answer or why not)."""
    from sandbox.core import backend
    from sandbox.core.errors import SandboxError

    if not spec.url:
        return {"capabilities": sorted(backend.ALL)}
    try:
        engine = backend.load(spec)
    except SandboxError as e:
        return {"capabilities": [], "problem": str(e)}
    try:
        d = engine.describe()
        return {"capabilities": d["capabilities"], "unavailable": dict(sorted(engine.capabilities.missing.items())),
                "server": {k: d[k] for k in ("server_kind", "server_model", "endpoint", "n_ctx", "counts_exact", "reported")},
                "warnings": engine.warnings}
    finally:
        engine.close()


def model_path(args) -> int:
    spec = _registry(args).get(args.name)
    print(spec.local_path())  # a served model: a one-line error (it has no file)
    return 0


def pull_model(args) -> int:
    from sandbox.core.errors import SandboxError
    from sandbox.core.modelfile import sha256_of

    spec = _registry(args).get(args.name)
    if spec.source != "repo":
        where = "ships with sandbox" if spec.source == "bundled" else f"is a local file ({spec.path})"
        raise SandboxError(f"model {spec.name!r} {where}; only models with repo + file can be pulled")
    target = spec.local_path()
    if target.is_file():
        print(f"{spec.name} is already at {target}")
        return 0
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise SandboxError("HF_HUB_OFFLINE=1 is set; unset it to download models")
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:  # pragma: no cover
        raise SandboxError("huggingface-hub is not installed; run `pip install huggingface-hub`") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    print(f"downloading {spec.repo}/{spec.file} -> {target}", file=sys.stderr)
    try:
        got = hf_hub_download(repo_id=spec.repo, filename=spec.file, local_dir=str(target.parent))
    except LocalEntryNotFoundError:
        raise SandboxError(f"cannot reach the Hugging Face hub to download {spec.repo}/{spec.file}; check the network") from None
    except HfHubHTTPError as e:
        raise SandboxError(f"the hub refused {spec.repo}/{spec.file}: {e}") from None
    except OSError as e:
        raise SandboxError(f"download of {spec.file} failed: {e}") from None
    print(f"{spec.name}: {got} (sha256 {sha256_of(got)})")
    return 0
