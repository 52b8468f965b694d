"""ModelHubMixin: ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for any model class.

A drop-in for ``huggingface_hub.ModelHubMixin``: same class keyword options, same method names and parameters, same
private attribute names (``_hub_mixin_config``, ``_hub_mixin_info``...) that integrations read. Frameworks plug in
through ``_save_pretrained`` and ``_from_pretrained``; the hub is reached only through ``modelhub.client``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import json
import logging
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ..constants import CONFIG_NAME, REPOCARD_NAME
from . import _config, _hub

logger = logging.getLogger(__name__)

T = TypeVar("T", bound="ModelHubMixin")

_TEMPLATES = Path(__file__).resolve().parent.parent / "cards" / "templates"
#: The model card template used when a class does not give ``model_card_template``.
DEFAULT_MODEL_CARD = (_TEMPLATES / "mixin_modelcard_template.md").read_text(encoding="utf-8")

# The keyword arguments every ``_from_pretrained`` receives; ``proxies`` / ``resume_download`` only when the
# override names them (integrations written against older huggingface_hub versions require them).
_LEGACY_HUB_KWARGS = ("proxies", "resume_download")


@dataclasses.dataclass
class MixinInfo:
    """What a class declared at definition time, used to write its model card."""

    model_card_template: str
    model_card_data: Any  # ModelCardData (imported lazily: cards pull in yaml/jinja2)
    docs_url: str | None = None
    paper_url: str | None = None
    repo_url: str | None = None


def _set_attribute(obj: Any, name: str, value: Any) -> None:
    """Set an attribute even on frozen dataclasses, without going through framework trackers that may not be
    initialised yet (we run in ``__new__``, before ``__init__``)."""
    object.__setattr__(obj, name, value)


class ModelHubMixin:
    """Give a model class ``save_pretrained``, ``from_pretrained``, ``push_to_hub`` and a generated model card.

    Class keyword options (given at class definition, inherited and merged by subclasses)::

        class MyModel(ModelHubMixin, library_name="my-lib", tags=["vision"], license="mit",
                      repo_url="https://github.com/me/my-lib", docs_url=..., paper_url=...,
                      pipeline_tag="image-classification", language="en",
                      coders={MyType: (encode, decode)}):
            def __init__(self, size: int = 512, kind: MyType = MyType("a")): ...

    The arguments of ``__init__`` (passed values and JSON-able defaults) become ``config.json`` on save and are passed
    back on load; values of custom types go through ``coders`` (encode on save, decode by annotation on load). A
    ``config`` argument may be a dict (merged into the config) or a dataclass (saved as its fields).

    Integrations implement ``_save_pretrained(save_directory)`` and ``_from_pretrained(*, model_id, revision,
    cache_dir, force_download, local_files_only, token, **model_kwargs)``.
    """

    _hub_mixin_config: ClassVar[dict | Any | None] = None
    _hub_mixin_info: ClassVar[MixinInfo]
    _hub_mixin_inject_config: ClassVar[bool]
    _hub_mixin_init_parameters: ClassVar[dict[str, inspect.Parameter]]
    _hub_mixin_jsonable_default_values: ClassVar[dict[str, Any]]
    _hub_mixin_jsonable_custom_types: ClassVar[tuple[type, ...]]
    _hub_mixin_coders: ClassVar[_config.Coders]
    _hub_mixin_annotations: ClassVar[dict[str, Any]]  # resolved __init__ annotations (for decoding)
    _hub_mixin_init_seen: ClassVar[Any]  # the __init__ the cached signature belongs to

    # ------------------------------------------------------------------ class definition
    def __init_subclass__(
        cls,
        *,
        repo_url: str | None = None,
        paper_url: str | None = None,
        docs_url: str | None = None,
        model_card_template: str | None = None,
        language: str | list[str] | None = None,
        library_name: str | None = None,
        license: str | None = None,
        license_name: str | None = None,
        license_link: str | None = None,
        pipeline_tag: str | None = None,
        tags: list[str] | None = None,
        coders: _config.Coders | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        from ..cards import ModelCardData

        parent: MixinInfo | None = getattr(cls, "_hub_mixin_info", None)
        if parent is not None:  # inherit a copy: a subclass never edits its parent's info
            info = MixinInfo(
                model_card_template=parent.model_card_template,
                model_card_data=ModelCardData(**parent.model_card_data.to_dict()),
                docs_url=parent.docs_url,
                paper_url=parent.paper_url,
                repo_url=parent.repo_url,
            )
        else:
            info = MixinInfo(model_card_template=DEFAULT_MODEL_CARD, model_card_data=ModelCardData())
        if model_card_template is not None:
            info.model_card_template = model_card_template
        for name, value in (("repo_url", repo_url), ("paper_url", paper_url), ("docs_url", docs_url)):
            if value is not None:
                setattr(info, name, value)
        data = info.model_card_data
        for field_name, field_value in (
            ("language", language),
            ("library_name", library_name),
            ("license", license),
            ("license_name", license_name),
            ("license_link", license_link),
            ("pipeline_tag", pipeline_tag),
        ):
            if field_value is not None:
                setattr(data, field_name, field_value)
        merged_tags = set(data.tags or [])
        merged_tags.update([tags] if isinstance(tags, str) else (tags or []))
        merged_tags.add("model_hub_mixin")
        data.tags = sorted(merged_tags)
        cls._hub_mixin_info = info

        # Coders merge too: a subclass adds to (or overrides) what its parents declared.
        cls._hub_mixin_coders = {**getattr(cls, "_hub_mixin_coders", {}), **(coders or {})}
        cls._hub_mixin_jsonable_custom_types = tuple(cls._hub_mixin_coders)
        cls._refresh_init_spec()
        cls._hub_mixin_inject_config = "config" in inspect.signature(cls._from_pretrained).parameters
        if "__new__" not in cls.__dict__ and _new_hides_arguments(cls):
            # ignore: mypy rejects assigning a method (method-assign, a sub-code of assignment), let alone one
            # with another signature; installing this wrapper per class is the point (see _new_then_capture)
            cls.__new__ = staticmethod(_new_then_capture)  # type: ignore[assignment]

    @classmethod
    def _refresh_init_spec(cls) -> None:
        """(Re)read ``__init__``'s signature. Run again lazily: ``@dataclass`` writes ``__init__`` only after
        ``__init_subclass__`` has run."""
        init = cls.__init__
        parameters = dict(inspect.signature(init).parameters)
        cls._hub_mixin_init_parameters = parameters
        cls._hub_mixin_jsonable_default_values = {
            p.name: _config.encode_value(cls._hub_mixin_coders, p.default)
            for p in parameters.values()
            if p.default is not inspect.Parameter.empty
            and _config.can_encode(cls._hub_mixin_coders, p.default)
        }
        cls._hub_mixin_annotations = _config.init_annotations(cls)
        cls._hub_mixin_init_seen = init

    @classmethod
    def _init_spec(cls) -> dict[str, inspect.Parameter]:
        if cls.__dict__.get("_hub_mixin_init_seen") is not cls.__init__:
            cls._refresh_init_spec()
        return cls._hub_mixin_init_parameters

    # ------------------------------------------------------------------ config capture
    def __new__(cls: type[T], *args: Any, **kwargs: Any) -> T:
        """Create the instance and record its config from the ``__init__`` arguments (before ``__init__`` runs)."""
        next_new = super().__new__
        # A framework base class with its own __new__ (keras Layer) wants the arguments; object.__new__ does not.
        instance = next_new(cls) if next_new is object.__new__ else next_new(cls, *args, **kwargs)
        if instance._hub_mixin_config is not None:  # set at class level by the integration
            return instance
        for name, value in cls._hub_mixin_capture(args, kwargs).items():
            _set_attribute(instance, name, value)
        return instance

    @classmethod
    def _hub_mixin_capture(cls, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The instance attributes recording an ``__init__`` call: ``_hub_mixin_config`` (when there is a config)
        and ``_hub_mixin_skipped_args`` (when arguments were left out)."""
        captured: dict[str, Any] = {}
        parameters = cls._init_spec()
        passed = _config.bind_init_arguments(parameters, args, kwargs)
        if _config.is_dataclass_instance(passed.get("config")):
            # As upstream, the dataclass alone is the config; other arguments passed are not recorded.
            captured["_hub_mixin_config"] = passed["config"]
            others = {key: "not recorded next to a dataclass `config`" for key in passed if key != "config"}
            if others:
                captured["_hub_mixin_skipped_args"] = others
            return captured

        coders = cls._hub_mixin_coders
        config = dict(cls._hub_mixin_jsonable_default_values)
        skipped: dict[str, str] = {}
        for key, value in passed.items():
            if _config.can_encode(coders, value):
                config[key] = _config.encode_value(coders, value)
            else:  # left out; a JSON-able default stays (as upstream): loading uses the default either way
                skipped[key] = f"{type(value).__name__}, not JSON-serializable"
        passed_config = config.pop("config", None)
        if isinstance(passed_config, dict):
            config.update(passed_config)
        if skipped:
            captured["_hub_mixin_skipped_args"] = skipped
        if config:
            captured["_hub_mixin_config"] = config
        return captured

    @classmethod
    def _is_jsonable(cls, value: Any) -> bool:
        return _config.can_encode(cls._hub_mixin_coders, value)

    @classmethod
    def _encode_arg(cls, arg: Any) -> Any:
        return _config.encode_value(cls._hub_mixin_coders, arg)

    @classmethod
    def _decode_arg(cls, expected_type: Any, value: Any) -> Any:
        return _config.decode_value(cls._hub_mixin_coders, expected_type, value)

    # ------------------------------------------------------------------ saving
    def save_pretrained(
        self,
        save_directory: str | Path,
        *,
        config: dict | Any | None = None,
        repo_id: str | None = None,
        push_to_hub: bool = False,
        model_card_kwargs: dict[str, Any] | None = None,
        **push_to_hub_kwargs: Any,
    ) -> Any:
        """Save the model to ``save_directory``: weights (``_save_pretrained``), ``config.json`` and a README.md
        model card (kept if one exists). With ``push_to_hub=True``, also push to ``repo_id`` (default: the folder
        name) and return the commit info; otherwise return ``None``."""
        save_directory = Path(save_directory)
        if save_directory.exists() and not save_directory.is_dir():
            raise NotADirectoryError(
                f"Cannot save into {str(save_directory)!r}: it exists and is not a directory."
            )
        save_directory.mkdir(parents=True, exist_ok=True)

        # A stale config.json must not survive; one written by _save_pretrained itself must not be overwritten.
        config_path = save_directory / CONFIG_NAME
        config_path.unlink(missing_ok=True)
        self._save_pretrained(save_directory)

        if config is None:
            config = self._hub_mixin_config
        if config is not None:
            if _config.is_dataclass_instance(config):
                config = dataclasses.asdict(config)
            if not config_path.exists():
                config = self._jsonable_config(config)
                config_path.write_text(json.dumps(config, sort_keys=True, indent=2), encoding="utf-8")
        skipped = getattr(self, "_hub_mixin_skipped_args", None)
        if skipped:
            logger.warning(
                "%s: __init__ argument(s) left out of %s: %s. Declare a coder for a custom type (class keyword "
                "`coders={Type: (encode, decode)}`), or put the values in the `config` dataclass, to save them.",
                type(self).__name__,
                config_path,
                ", ".join(f"{name!r} ({reason})" for name, reason in sorted(skipped.items())),
            )

        card_path = save_directory / REPOCARD_NAME
        model_card_kwargs = model_card_kwargs if model_card_kwargs is not None else {}
        if not card_path.exists():
            self.generate_model_card(**model_card_kwargs).save(card_path)

        if push_to_hub:
            kwargs = dict(push_to_hub_kwargs)
            if config is not None:
                kwargs["config"] = config
            return self.push_to_hub(
                repo_id=repo_id or save_directory.name, model_card_kwargs=model_card_kwargs, **kwargs
            )
        return None

    @staticmethod
    def _jsonable_config(config: dict) -> dict:
        """Drop (with a warning) config entries json cannot write, instead of failing half-way through a save."""
        if _config.is_jsonable(config):
            return config
        kept: dict[str | int | float | bool, Any] = {}
        for key, value in config.items():
            if _config.is_jsonable(value) and isinstance(key, (str, int, float, bool)):
                kept[key] = value
            else:
                logger.warning(
                    "Config entry %r (%s) is not JSON-serializable; left out.", key, type(value).__name__
                )
        return kept

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the model's files into ``save_directory``. Integrations override this."""
        raise NotImplementedError(f"{type(self).__name__} must implement _save_pretrained(save_directory).")

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls: type[T],
        pretrained_model_name_or_path: str | Path,
        *,
        force_download: bool = False,
        resume_download: bool | None = None,
        proxies: dict | None = None,
        token: str | bool | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        revision: str | None = None,
        **model_kwargs: Any,
    ) -> T:
        """Load a model from a local directory written by ``save_pretrained`` or from a hub repo id.

        ``config.json`` (if present) gives the ``__init__`` arguments (custom types decoded via ``coders``);
        ``model_kwargs`` override them and reach ``_from_pretrained`` (e.g. ``map_location``, ``strict``).
        ``revision`` / ``token`` / ``cache_dir`` / ``force_download`` / ``local_files_only`` / ``proxies`` apply to
        hub downloads. ``resume_download`` is accepted for compatibility and ignored (downloads always resume).
        """
        model_id = str(pretrained_model_name_or_path)
        if isinstance(pretrained_model_name_or_path, os.PathLike) and not os.path.exists(model_id):
            raise FileNotFoundError(
                f"No directory at {model_id!r}. A Path is always taken as a local directory written by "
                "save_pretrained; pass a str like 'alice/my-model' to load from a hub repo."
            )
        _hub.check_model_id(model_id)
        hub_kwargs: dict[str, Any] = dict(
            revision=revision,
            cache_dir=cache_dir,
            force_download=force_download,
            proxies=proxies,
            token=token,
            local_files_only=local_files_only,
        )
        # One hub load reads every file at one commit, resolving the revision once (one request when the
        # cache is warm), even if the branch moves meanwhile.
        with contextlib.ExitStack() as stack:
            if not os.path.isdir(model_id):
                from ..client import revision_scope

                stack.enter_context(revision_scope())
            config_file: str | None = None
            if os.path.isdir(model_id):
                candidate = os.path.join(model_id, CONFIG_NAME)
                if os.path.isfile(candidate):
                    config_file = candidate
                else:
                    logger.warning(
                        "%s not found in %s; loading with default arguments.", CONFIG_NAME, model_id
                    )
            else:
                from ..errors import RepositoryNotFoundError

                try:
                    config_file = _hub.hub_file_or_none(model_id, CONFIG_NAME, **hub_kwargs)
                except RepositoryNotFoundError as exc:
                    exc.add_note(f"{model_id!r} is not a local directory either (looked in {os.getcwd()}).")
                    raise

            config: Any = None
            if config_file is not None:
                config = cls._read_config(config_file)
                cls._config_to_model_kwargs(config, model_kwargs)
                if "config" in model_kwargs:
                    config = model_kwargs["config"] if model_kwargs["config"] is not None else config
                if cls._hub_mixin_inject_config and "config" not in model_kwargs:
                    model_kwargs["config"] = config

            call_kwargs: dict[str, Any] = dict(
                model_id=model_id,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                local_files_only=local_files_only,
                token=token,
            )
            accepted = inspect.signature(cls._from_pretrained).parameters
            for name, value in (("proxies", proxies), ("resume_download", resume_download)):
                if name in accepted and name not in model_kwargs:
                    call_kwargs[name] = value
            instance = cls._from_pretrained(**call_kwargs, **model_kwargs)

        # Keep the config on the instance so that a later save_pretrained / push_to_hub writes it again.
        if config is not None and getattr(instance, "_hub_mixin_config", None) in (None, {}):
            _set_attribute(instance, "_hub_mixin_config", config)
        return instance

    @staticmethod
    def _read_config(config_file: str) -> dict[str, Any]:
        try:
            with open(config_file, encoding="utf-8") as f:
                config = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{config_file} is not valid JSON ({exc.msg} at line {exc.lineno}); fix or delete it."
            ) from exc
        if not isinstance(config, dict):
            raise ValueError(f"{config_file} must hold a JSON object, not {type(config).__name__}.")
        return config

    @classmethod
    def _config_to_model_kwargs(cls, config: dict[str, Any], model_kwargs: dict[str, Any]) -> None:
        """Decode config values by annotation and add them to ``model_kwargs`` (explicit kwargs win)."""
        parameters = cls._init_spec()
        annotations = cls._hub_mixin_annotations
        for key, value in list(config.items()):
            if key in parameters and key in annotations:
                config[key] = cls._decode_arg(annotations[key], value)
        for name, param in parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or name == "self":
                continue
            if name not in model_kwargs and name in config:
                model_kwargs[name] = config[name]
        if "config" in parameters and "config" not in model_kwargs:
            model_kwargs["config"] = cls._decode_arg(
                annotations.get("config", inspect.Parameter.empty), config
            )
        if dataclasses.is_dataclass(cls):
            for field in dataclasses.fields(cls):
                if field.name not in model_kwargs and field.name in config:
                    model_kwargs[field.name] = config[field.name]
        elif any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            for key, value in config.items():
                model_kwargs.setdefault(key, value)

    @classmethod
    def _from_pretrained(
        cls: type[T],
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        **model_kwargs: Any,
    ) -> T:
        """Build the model from ``model_id`` (a local directory or a repo id). Integrations override this and use
        ``modelhub.client.hub_download`` / ``snapshot_download`` for repo ids."""
        raise NotImplementedError(f"{cls.__name__} must implement _from_pretrained(...).")

    # ------------------------------------------------------------------ hub
    def push_to_hub(
        self,
        repo_id: str,
        *,
        config: dict | Any | None = None,
        commit_message: str = "Push model using modelhub.",
        private: bool | None = None,
        token: str | None = None,
        branch: str | None = None,
        create_pr: bool | None = None,
        allow_patterns: list[str] | str | None = None,
        ignore_patterns: list[str] | str | None = None,
        delete_patterns: list[str] | str | None = None,
        model_card_kwargs: dict[str, Any] | None = None,
        api_endpoint: str | None = None,
        revision: str | None = None,
    ) -> Any:
        """Save the model into a temporary folder and upload it to ``repo_id`` in one commit.

        The repo is created if needed (``private`` applies then). ``branch`` (alias ``revision``) is the target
        branch, created if missing; ``create_pr=True`` opens a pull request instead of committing to it.
        ``allow_patterns`` / ``ignore_patterns`` filter the uploaded files, ``delete_patterns`` removes remote files
        in the same commit. Returns the ``CommitInfo`` (a str: the commit URL; ``.oid``, ``.pr_url``...).
        """

        def write(folder: Path) -> None:
            self.save_pretrained(folder, config=config, model_card_kwargs=model_card_kwargs)

        return _hub.push_folder(
            write,
            repo_id,
            commit_message=commit_message,
            private=private,
            token=token,
            branch=branch or revision,
            create_pr=create_pr,
            allow_patterns=allow_patterns,
            ignore_patterns=ignore_patterns,
            delete_patterns=delete_patterns,
            endpoint=api_endpoint,
        )

    # ------------------------------------------------------------------ model card
    def generate_model_card(self, *args: Any, **kwargs: Any) -> Any:
        """The model card for this model: the class's template rendered with its metadata; ``kwargs`` are extra
        template variables."""
        from ..cards import ModelCard, ModelCardData

        info = self._hub_mixin_info
        variables: dict[str, Any] = {
            "repo_url": info.repo_url,
            "paper_url": info.paper_url,
            "docs_url": info.docs_url,
            "model_class": type(self).__name__,
        }
        variables.update(kwargs)
        return ModelCard.from_template(
            card_data=ModelCardData(**copy.deepcopy(info.model_card_data.to_dict())),
            template_str=info.model_card_template,
            **variables,
        )


# ---------------------------------------------------------------------------------------------- framework __new__
# A framework base placed before the mixin (``class Net(keras.Model, KerasModelHubMixin)``) may define its own
# ``__new__`` that does not pass the constructor arguments on: ModelHubMixin.__new__ then never sees them and the
# config would only hold defaults. Such classes get ``_new_then_capture`` as their ``__new__``: the framework's
# ``__new__`` runs as before, then the config is recorded from the real arguments.
_CAPTURED_ATTRIBUTES = ("_hub_mixin_config", "_hub_mixin_skipped_args")


def _plain_function(attribute: Any) -> Any:
    return getattr(attribute, "__func__", attribute)


def _new_hides_arguments(cls: type) -> bool:
    """Whether a class before ModelHubMixin in ``cls``'s MRO defines ``__new__`` (and no wrapper is inherited)."""
    for owner in cls.__mro__[1:]:
        if owner is ModelHubMixin:
            return False
        if "__new__" in owner.__dict__:
            return _plain_function(owner.__dict__["__new__"]) is not _new_then_capture
    return False


def _new_then_capture(klass: type[ModelHubMixin], *args: Any, **kwargs: Any) -> Any:
    """``__new__`` of mixin classes behind a framework ``__new__``: the next ``__new__``, then the capture."""
    new = next(
        _plain_function(owner.__dict__["__new__"])
        for owner in klass.__mro__[1:]
        if "__new__" in owner.__dict__ and _plain_function(owner.__dict__["__new__"]) is not _new_then_capture
    )
    instance = new(klass) if new is object.__new__ else new(klass, *args, **kwargs)
    if getattr(klass, "_hub_mixin_config", None) is not None:  # set at class level by the integration
        return instance
    captured = klass._hub_mixin_capture(args, kwargs)
    for name in _CAPTURED_ATTRIBUTES:  # replace what a capture without the arguments may have recorded
        if name in captured:
            _set_attribute(instance, name, captured[name])
        elif name in vars(instance):
            object.__delattr__(instance, name)
    return instance
