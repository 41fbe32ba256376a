"""Hugging Face hub access, in one place: is a string a hub id, and a hub file's local path.

Nothing is downloaded at import. A file is looked up in the local cache first; when downloads are
off (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``) and it is not cached, a
:class:`~voxref.errors.MissingCheckpointError` says what to do at once (no retry loop).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MissingCheckpointError, optional_dependency

__all__ = ["hub_file", "is_hub_id", "downloads_disabled", "HUB_ID_PATTERN", "MODEL_SUFFIXES"]

# what a hub id ``owner/name`` looks like (is_hub_id also rules out local-looking paths)
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


def downloads_disabled(local_files_only: bool = False) -> bool:
    """Whether nothing may be downloaded: ``local_files_only``, or ``HF_HUB_OFFLINE`` is truthy.

    Examples
    --------
    >>> downloads_disabled(True)
    True
    """
    if local_files_only:
        return True
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return env in ("1", "true", "yes", "on")


def hub_file(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
) -> Path:
    """Local path of ``filename`` from hub repo ``repo_id``: from the cache, else downloaded.

    The cache is checked first; when downloads are off (``HF_HUB_OFFLINE=1`` or
    ``local_files_only``) a missing file raises :class:`MissingCheckpointError` at once.
    """
    # a dependency of speechbrain and pyannote: missing only without either
    with optional_dependency("huggingface_hub", "huggingface_hub", "Loading models by hub id"):
        from huggingface_hub import hf_hub_download, try_to_load_from_cache
        from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError
    cached = try_to_load_from_cache(
        repo_id, filename, cache_dir=str(cache_dir) if cache_dir else None, revision=revision
    )
    if isinstance(cached, str) and Path(cached).is_file():
        return Path(cached)
    where = f"{repo_id}/{filename}" + (f"@{revision}" if revision else "")
    if downloads_disabled(local_files_only):
        raise MissingCheckpointError(
            f"{where} is not in the local Hugging Face cache"
            f"{f' ({cache_dir})' if cache_dir else ''} and downloads are off "
            "(HF_HUB_OFFLINE=1 or local_files_only=True). Download it once with network access "
            f"(`huggingface-cli download {repo_id}`, or unset HF_HUB_OFFLINE), or pass a local "
            "checkpoint path instead."
        )
    try:
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                cache_dir=str(cache_dir) if cache_dir else None,
                token=token,
            )
        )
    except GatedRepoError as exc:
        raise MissingCheckpointError(
            f"{repo_id} is gated: accept its conditions on https://huggingface.co/{repo_id} and "
            "pass token=<your HF token> (or log in with `huggingface-cli login`)."
        ) from exc
    except RepositoryNotFoundError as exc:
        raise MissingCheckpointError(
            f"no hub repository {repo_id!r} (or it is private: pass token=...)."
        ) from exc
    except Exception as exc:  # network errors, missing file, ...
        raise MissingCheckpointError(
            f"could not download {where}: {type(exc).__name__}: {str(exc).splitlines()[0]}. "
            "Check the id and your connection, or pass a local path."
        ) from exc


def _looks_like_path(source: str) -> bool:
    return (
        source.startswith((".", "/", "~", "\\"))
        or os.sep in source.strip("/").replace("/", "", 1)
        or Path(source).suffix.lower() in MODEL_SUFFIXES + (".yaml", ".yml")
        or (len(source) > 1 and source[1] == ":")
    )


def is_hub_id(source: str | os.PathLike) -> bool:
    """Is ``source`` a hub id ``owner/name`` (and not something that looks like a local path)?

    Examples
    --------
    >>> is_hub_id("speechbrain/spkrec-ecapa-voxceleb"), is_hub_id("./models/x"), is_hub_id("a.pt")
    (True, False, False)
    """
    text = os.fspath(source)
    return not _looks_like_path(text) and bool(HUB_ID_PATTERN.match(text))
