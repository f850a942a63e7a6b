"""Model-hub downloads: which calls pull from a hub, from where, pinned to what.

Shared by the ML06 pinning rule and by the data flow (an unpinned hub model taints what is
built from it, for the ML07 transfer-learning rule). A revision is pinned only when it is a
40-hex commit id on every path; a variable holding ``"main"`` or a tag is not. A repository
argument that is a local path (``./ckpt``, ``Path(...)``, ``os.path.join(...)``, a folder
returned by a download call) is not a hub download.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlwarden.linter.context import Call
from mlwarden.linter.values import AV, LOCAL, is_commit_sha, pinned_revision

#: callee last name -> (repository keyword, its position) for hub loaders.
_HUB_CALLS: dict[str, tuple[str, int]] = {
    "from_pretrained": ("pretrained_model_name_or_path", 0),
    "hf_hub_download": ("repo_id", 0),
    "snapshot_download": ("repo_id", 0),
    "SentenceTransformer": ("model_name_or_path", 0),
    "CrossEncoder": ("model_name", 0),
    "from_pretrained_keras": ("repo_id", 0),
    "load_from_hub": ("repo_id", 0),
}
_LOCAL_DIRS = frozenset(
    (
        "output",
        "outputs",
        "checkpoint",
        "checkpoints",
        "ckpt",
        "ckpts",
        "saved",
        "saved_models",
        "artifacts",
        "runs",
        "results",
        "tmp",
        "exports",
        "export",
        "local",
        "cache",
    )
)
HUB_TERMINALS = frozenset((*_HUB_CALLS, "pipeline", "load", "create_model"))


@dataclass(frozen=True)
class HubLoad:
    """One hub download: what it fetches and whether it is pinned (None: unknown)."""

    api: str
    repo: AV | None
    pinned: bool | None
    local: bool | None


def hub_load(call: Call) -> HubLoad | None:
    """Describe ``call`` if it downloads from a model hub, else ``None``."""
    terminal = call.terminal
    spec = _HUB_CALLS.get(terminal)
    if spec is not None:
        if terminal != "from_pretrained" and not _is_hub_module(call):
            return None
        repo = call.arg(*spec)
        if _always(call.arg("local_files_only")):
            return HubLoad(terminal, repo, True, True)
        return HubLoad(terminal, repo, pinned_revision(call.arg("revision")), is_local(repo))
    if terminal == "pipeline" and call.matches("transformers.pipeline"):
        model = call.arg("model", 1)
        if model is None or not model.strings():
            return None  # the task's default model, or an already loaded model object
        return HubLoad("pipeline", model, pinned_revision(call.arg("revision")), is_local(model))
    if terminal == "create_model" and call.matches_prefix("timm."):
        return _timm(call)
    return None


def _is_hub_module(call: Call) -> bool:
    return any(
        n.startswith(("huggingface_hub", "sentence_transformers", "transformers", "local:"))
        or "." not in n
        for n in call.names
    )


def _always(value: AV | None) -> bool:
    return value is not None and value.always(True)


def _timm(call: Call) -> HubLoad | None:
    name = call.arg("model_name", 0)
    pretrained = call.arg("pretrained")
    if name is None or pretrained is None or pretrained.always(False):
        return None
    hub = [s for s in name.prefixes() if s.startswith(("hf-hub:", "hf_hub:"))]
    if not hub:
        return None
    pinned = all("@" in s and is_commit_sha(s.rpartition("@")[2]) for s in hub)
    return HubLoad("timm.create_model", name, pinned, False)


def is_local(repo: AV | None) -> bool | None:
    """True when the argument is a local path on every path; None when unknown."""
    if repo is None:
        return None
    if LOCAL in repo.taints:
        return True
    strings = repo.strings()
    if not strings or repo.unknown:
        starts = repo.prefixes()
        if starts and all(_local_text(s) for s in starts):
            return True
        return None
    return all(_local_text(s) for s in strings)


def _local_text(text: str) -> bool:
    if text.startswith(("/", "./", "../", "~", "\\", ".\\")) or text in (".", ".."):
        return True
    if len(text) > 2 and text[1] == ":" and text[2] in "\\/":
        return True  # a Windows drive path
    head, sep, _ = text.partition("/")
    if sep and (head in _LOCAL_DIRS or text.count("/") > 1):
        return True
    return text.endswith((".bin", ".pt", ".pth", ".safetensors", ".ckpt", ".h5", ".onnx"))


def untrusted(call: Call) -> bool:
    """Whether ``call`` brings in a model from an unpinned, non-local hub source."""
    terminal = call.terminal
    if terminal == "load" and call.matches("torch.hub.load"):
        return not torch_hub_pinned(call)
    if terminal not in HUB_TERMINALS:
        return False
    found = hub_load(call)
    return found is not None and found.local is not True and found.pinned is not True


def torch_hub_pinned(call: Call) -> bool:
    """``torch.hub.load`` from a local folder or a ``owner/repo:<commit>`` reference."""
    source = call.arg("source")
    if source is not None and source.always("local"):
        return True
    repo = call.arg("repo_or_dir", 0)
    if repo is None or repo.unknown or not repo.strings():
        return False
    return all(":" in s and is_commit_sha(s.rpartition(":")[2]) for s in repo.strings())
