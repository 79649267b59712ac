"""The card registry: register a dataset as an immutable, versioned card; list, load and compare versions.

Registration order (what makes it atomic): one scan of the folder → validate (or reuse the verdict passed
in, when its files are exactly those scanned) while every file is copied into content-addressed blobs
(hashed as copied, so a file that changes is caught) → stat the scanned files again (no second walk) → in
one database transaction, take the next version, insert the card row, write and read back the version
folder, commit. A failure before the commit leaves no row (at most unreferenced blobs, which a retry
reuses); two registrations racing for a version meet at the unique constraint and the loser retries with
the next one.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from opsml_image import categories, config, features, images, jsonl, rules, validation
from opsml_image.categories import read_names
from opsml_image.dataset import DatasetStats, ImageDataset
from opsml_image.images import is_image_file
from opsml_image.registry import versions
from opsml_image.registry.card import CategoryFact, DataCard, DataFacts, normalise_name
from opsml_image.registry.db import IMMEDIATE, cards, create_schema, make_engine
from opsml_image.registry.errors import (
    AmbiguousCardError,
    CardNotFoundError,
    DatasetChangedError,
    DatasetInvalidError,
    RegistryConnectionError,
    RegistryError,
    VersionExistsError,
)
from opsml_image.registry.gc import GarbageReport, collect_garbage
from opsml_image.registry.hashing import FileEntry, HashCache, hash_bytes, hash_file, scan
from opsml_image.registry.loaders import (
    CardLoader,
    DetectionDataset,
    Progress,
    byte_counter,
    diff_records,
    no_progress,
    to_hf_dataset,
)
from opsml_image.registry.locks import card_lock
from opsml_image.registry.manifest import Manifest, ManifestEntry
from opsml_image.registry.storage import ArtifactStore
from opsml_image.verdict import Verdict, judge, unchanged

__all__ = ["CardRegistry", "CardDiff", "rules_fingerprint"]

MAX_COMMIT_ATTEMPTS = 50
#: The modules whose code reaches a verdict: any change to their source (even a comment) means verdicts
#: registered before are not reused for identical bytes; they are validated again, which is always safe.
VALIDATOR_MODULES = (rules, validation, images, features, jsonl, categories)


@dataclass
class CardDiff:
    """What changed from ``v1`` to ``v2``: images by path, records by ``split/file_name``, other files."""

    name: str
    team: str
    v1: str
    v2: str
    added_images: list[str] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    changed_images: list[str] = field(default_factory=list)
    added_records: list[str] = field(default_factory=list)
    removed_records: list[str] = field(default_factory=list)
    changed_records: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f) for f in _DIFF_FIELDS)

    def summary(self) -> str:
        parts = [f"{len(getattr(self, f))} {f.replace('_', ' ')}" for f in _DIFF_FIELDS if getattr(self, f)]
        return f"{self.team}/{self.name} {self.v1} -> {self.v2}: " + (", ".join(parts) or "no changes")


_DIFF_FIELDS = (
    "added_images",
    "removed_images",
    "changed_images",
    "added_records",
    "removed_records",
    "changed_records",
    "changed_files",
)


class CardRegistry:
    """A registry of data cards: database at ``tracking_uri``, artifacts at ``storage_uri``.

    Both default to ``OPSML_TRACKING_URI`` / ``OPSML_STORAGE_URI``, else a SQLite file and a folder under
    ``OPSML_IMAGE_HOME``. ``storage_options`` go to fsspec (e.g. ``{"client_kwargs": {"endpoint_url": ...}}``
    for an S3-compatible endpoint). On local storage the new blobs are put on disk (one ``syncfs``) before
    the card row commits; ``durable=True`` fsyncs each stored file as it is written instead.
    ``hash_cache`` (default: ``<home>/cache/hashes.sqlite``; ``None`` disables it) remembers file hashes by
    stat so unchanged images are not read again.
    """

    def __init__(
        self,
        registry_type: str = "data",
        *,
        tracking_uri: str | None = None,
        storage_uri: str | Path | None = None,
        storage_options: dict[str, Any] | None = None,
        fs: Any = None,
        durable: bool = False,
        hash_cache: str | Path | None | bool = True,
        workers: int = 4,
    ) -> None:
        if registry_type != "data":
            raise RegistryError(f"only the 'data' registry exists here, not {registry_type!r}")
        self.registry_type = registry_type
        self.tracking_uri = tracking_uri or config.tracking_uri()
        self.engine = make_engine(self.tracking_uri)
        create_schema(self.engine)
        self.store = ArtifactStore(
            storage_uri or config.storage_uri(), storage_options, fs=fs, durable=durable
        )
        if hash_cache is True:
            hash_cache = config.home() / "cache" / "hashes.sqlite"
        self.hash_cache = HashCache(hash_cache or None)
        self.workers = max(1, workers)

    def __repr__(self) -> str:
        url = self.engine.url.render_as_string()
        return f"CardRegistry({self.registry_type!r}, tracking_uri={url!r}, storage_uri={self.store.uri!r})"

    # ------------------------------------------------------------------------------------------ register

    def register_card(
        self,
        card: DataCard,
        version_type: versions.VersionType = "minor",
        *,
        version: str | None = None,
        force: bool = False,
        progress: Progress | None = None,
        verdict: Verdict | None = None,
    ) -> DataCard:
        """Register ``card``'s dataset as a new version; fills ``uid``, ``version``, ``uri``, ``facts``.

        ``version`` (explicit, must be new) overrides ``version_type`` (``major``/``minor``/``patch`` bump of
        the latest). A dataset that fails validation is refused unless ``force``. ``verdict`` (from
        :func:`opsml_image.verdict.judge`) stands in for validating and counting while the registry's scan
        finds exactly the files it judged; otherwise the folder is validated again. ``progress(stage, done,
        total)`` is called with stages ``validate`` (metadata bytes), ``upload`` (bytes) and ``commit``.
        """
        report = progress or no_progress
        if card.registered:
            raise RegistryError(
                f"card {card.team}/{card.name} is already registered as version {card.version}"
            )
        if card.data is None:
            raise RegistryError("the card has no data: DataCard(data=ImageDataset(...), ...)")
        if not isinstance(card.data.metadata, str):
            raise RegistryError(
                "the dataset's records are held in memory, not in its folder: write them with "
                "data.write_metadata() and register ImageDataset(image_dir=...) of the folder"
            )
        if version_type not in ("major", "minor", "patch"):
            raise versions.InvalidVersionError(
                f"version_type must be major, minor or patch, not {version_type!r}"
            )
        wanted = versions.parse(version) if version is not None else None
        if wanted is not None:
            versions.check_new(wanted, self._versions(card.team, card.name))

        # Shared with other registrations of this card, exclusive of a garbage collection of it (which could
        # otherwise delete blobs this registration is about to reuse), until the row is committed.
        with card_lock(self.engine, card.team, card.name, exclusive=False):
            self._register_locked(card, wanted, version_type, force, report, verdict)
        return card

    def _register_locked(
        self,
        card: DataCard,
        wanted: Any,
        version_type: versions.VersionType,
        force: bool,
        report: Progress,
        verdict: Verdict | None,
    ) -> None:
        assert card.data is not None
        root = Path(card.data.image_dir)
        entries = _scan_or_vanished(root)  # the one walk of the folder
        known = self.hash_cache.lookup(entries)
        # Validation (CPU) and storing (I/O, hashing) overlap; a failed validation stops the copying early
        # (blobs already stored are content-addressed and reused by the next attempt). A folder that changed
        # meanwhile is reported as such, even when the change is what made validation fail.
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="opsml-validate") as pool:
                checking = pool.submit(self._validate, card, entries, known, force, report, verdict)
                try:
                    stored = self._store_files(card, entries, known, report, stop=lambda: _failed(checking))
                finally:
                    validated, reused, stats = checking.result()
        except Exception:  # a folder that changed meanwhile is the cause to report, whatever failed
            _check_unchanged(root, entries)
            raise
        _check_unchanged(root, entries)
        self.hash_cache.store((e, stored[e.path].digest) for e in entries if e.path not in known)

        manifest = Manifest.of(stored.values())
        same = reused is not None and reused.content_digest == manifest.content_digest
        card.facts = reused if same else _facts(card, manifest, stats)
        card.validated = validated
        self._commit(card, manifest, wanted, version_type, report)

    def _validate(
        self,
        card: DataCard,
        entries: list[FileEntry],
        known: dict[str, str],
        force: bool,
        report: Progress,
        verdict: Verdict | None,
    ) -> tuple[bool, DataFacts | None, DatasetStats | None]:
        """``(passed, facts reused, statistics)``: the verdict passed in when it judged exactly the scanned
        files; else the verdict and facts of a version of the same bytes, metadata file and rules; else a
        validation now (one read of the metadata gives the report and the statistics)."""
        assert card.data is not None
        if verdict is not None and verdict.stands_for(card.data, {e.path: e.stat for e in entries}):
            report("validate", 1, 1)
            _refuse_unless(verdict.report, force)
            return verdict.ok, None, verdict.stats
        if len(known) == len(entries):
            digest = Manifest.of(ManifestEntry(e.path, known[e.path], e.size) for e in entries).content_digest
            query = (
                sa.select(cards.c.facts)
                .where(cards.c.team == card.team, cards.c.name == card.name)
                .where(cards.c.content_digest == digest, cards.c.validated.is_(True))
                .where(cards.c.facts["rules_fingerprint"].as_string() == rules_fingerprint())
                .where(cards.c.facts["metadata"].as_string() == _metadata_name(card))
                .limit(1)
            )
            rows = self._fetch(query)
            if rows:
                report("validate", 1, 1)
                return True, DataFacts.model_validate(rows[0].facts), None
        judged = judge(card.data, progress=lambda done, total: report("validate", done, total))
        _refuse_unless(judged.report, force)
        return judged.ok, None, judged.stats

    def _store_files(
        self,
        card: DataCard,
        entries: list[FileEntry],
        known: dict[str, str],
        report: Progress,
        stop: Callable[[], bool] = lambda: False,
    ) -> dict[str, ManifestEntry]:
        """Copy every file not yet stored into blobs, in parallel; the manifest entries by path."""
        team, name = card.team, card.name
        present = self.store.existing_blobs(team, name)
        stored: dict[str, ManifestEntry] = {}
        todo: list[FileEntry] = []
        for e in entries:
            digest = known.get(e.path)
            if digest is not None and _is_stored(present, digest, e.size):
                stored[e.path] = ManifestEntry(e.path, digest, e.size)
            else:
                todo.append(e)
        advance = byte_counter(report, "upload", sum(e.size for e in todo))

        def put(e: FileEntry) -> ManifestEntry:
            if stop():
                raise _Stopped
            expected = known.get(e.path)
            if expected is None and not self.store.local:
                try:
                    expected, _ = hash_file(e.absolute)
                except FileNotFoundError:
                    raise DatasetChangedError(f"{e.path} vanished during registration") from None
                if _is_stored(present, expected, e.size):
                    advance(e.size)
                    return ManifestEntry(e.path, expected, e.size)
            ref = self.store.put_blob(team, name, e, expected, advance)
            return ManifestEntry(e.path, ref.digest, ref.size)

        if len(todo) <= 1 or self.workers == 1:
            results = [put(e) for e in todo]
        else:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="opsml-put") as pool:
                results = list(pool.map(put, todo))
        stored.update((r.path, r) for r in results)
        if todo:
            self.store.settle()
        return stored

    def _commit(
        self,
        card: DataCard,
        manifest: Manifest,
        wanted: Any,
        version_type: versions.VersionType,
        report: Progress,
    ) -> None:
        """Take a version and commit the row, writing the version folder inside the transaction."""
        report("commit", 0, 1)
        copies = self._readable_copies(card, manifest)  # storage reads: not while the write lock is held
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            uid = uuid.uuid4().hex
            created = datetime.now(UTC)
            try:
                with self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
                    rows = conn.execute(
                        sa.select(cards.c.version).where(cards.c.team == card.team, cards.c.name == card.name)
                    )
                    existing = [versions.parse(row.version) for row in rows]
                    if wanted is not None:
                        chosen = versions.check_new(wanted, existing)
                    else:
                        chosen = versions.next_version(existing, version_type)
                    text = str(chosen)
                    manifest_bytes = manifest.to_bytes(card.team, card.name, text)
                    snapshot = card.model_copy(update={"uid": uid, "version": text, "created_at": created})
                    uri = self.store.version_dir(card.team, card.name, text)
                    snapshot.uri = self.store.full_uri(uri)
                    conn.execute(sa.insert(cards).values(**_row(snapshot, manifest_bytes)))
                    files = {"manifest.json": manifest_bytes, "card.json": _card_json(snapshot), **copies}
                    self.store.write_version(card.team, card.name, text, files)
            except sa.exc.IntegrityError:
                if wanted is not None:
                    raise VersionExistsError(
                        f"version {wanted} of {card.team}/{card.name} was just registered"
                    ) from None
                continue  # lost the race for this version: take the next one
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
                if _is_lock_timeout(error):
                    continue
                raise RegistryConnectionError(f"registry database error: {error.orig or error}") from None
            card.uid, card.version, card.created_at, card.uri = uid, text, created, snapshot.uri
            report("commit", 1, 1)
            return
        raise RegistryError(
            f"could not take a version for {card.team}/{card.name} after {MAX_COMMIT_ATTEMPTS} tries"
        )

    def _readable_copies(self, card: DataCard, manifest: Manifest) -> dict[str, bytes]:
        """The non-image files (metadata.jsonl, categories.json...), for people browsing the storage."""
        copies: dict[str, bytes] = {}
        for e in manifest.entries:
            if not is_image_file(e.path) and e.size <= 256 << 20:
                copies[f"files/{e.path}"] = self.store.read_blob(card.team, card.name, e.digest)
        return copies

    # ------------------------------------------------------------------------------------------ query

    def list_cards(
        self,
        name: str | None = None,
        team: str | None = None,
        version: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Cards as plain rows, by team and name, newest version first."""
        rows = [_plain(row._mapping) for row in self._fetch(_select(name, team, version))]
        rows.sort(key=lambda r: versions.parse(r["version"]), reverse=True)
        rows.sort(key=lambda r: (r["team"], r["name"]))
        return rows[:limit] if limit is not None else rows

    def newest_card(self) -> dict[str, Any] | None:
        """The most recently registered card as a plain row, or None (one row read, not the registry)."""
        query = sa.select(cards).order_by(cards.c.created_at.desc(), cards.c.uid).limit(1)
        rows = self._fetch(query)
        return _plain(rows[0]._mapping) if rows else None

    def collect_garbage(
        self, name: str | None = None, team: str | None = None, *, dry_run: bool = False, wait: float = 0.0
    ) -> GarbageReport:
        """Delete stored data no registered version needs (see :mod:`opsml_image.registry.gc`).

        Cards with a registration running are skipped (reported), unless it ends within ``wait`` seconds.
        """
        name = normalise_name(name) if name is not None else None
        team = normalise_name(team, "team") if team is not None else None
        return collect_garbage(self, team, name, dry_run=dry_run, wait=wait)

    def manifests(self, name: str, team: str) -> dict[str, Manifest]:
        """The manifest (file, hash, size) of every registered version of ``team/name``, by version.

        Each is read from storage and checked against the digest its card row holds (``IntegrityError``).
        """
        team, name = normalise_name(team, "team"), normalise_name(name)
        query = sa.select(cards.c.version, cards.c.manifest_digest).where(
            cards.c.team == team, cards.c.name == name
        )
        return {
            row.version: CardLoader(self.store, row.manifest_digest).manifest(team, name, row.version)
            for row in self._fetch(query)
        }

    def load_card(
        self,
        name: str | None = None,
        version: str | None = None,
        team: str | None = None,
        uid: str | None = None,
    ) -> DataCard:
        """A registered card (the latest unless ``version`` is given); :meth:`download_data` gets its data."""
        row = self._find(name, version, team, uid)
        card = DataCard.model_validate(
            {
                "name": row["name"],
                "team": row["team"],
                "user_email": row["user_email"],
                "description": row["description"],
                "tags": row["tags"],
                "uid": row["uid"],
                "version": row["version"],
                "created_at": _aware(row["created_at"]),
                "uri": row["uri"],
                "validated": row["validated"],
                "facts": row["facts"],
            }
        )
        return card

    def diff(self, name: str, v1: str, v2: str, team: str | None = None) -> CardDiff:
        """Images added/removed/changed and records added/removed/changed between two versions."""
        first, second = self._find(name, v1, team, None), self._find(name, v2, team, None)
        loader_1 = CardLoader(self.store, first["manifest_digest"])
        loader_2 = CardLoader(self.store, second["manifest_digest"])
        m1 = loader_1.manifest(first["team"], first["name"], first["version"]).by_path()
        m2 = loader_2.manifest(second["team"], second["name"], second["version"]).by_path()
        result = CardDiff(second["name"], second["team"], first["version"], second["version"])
        for path in sorted(m1.keys() | m2.keys()):
            a, b = m1.get(path), m2.get(path)
            if a is not None and b is not None and a.digest == b.digest:
                continue
            if is_image_file(path):
                target = (
                    result.added_images
                    if a is None
                    else result.removed_images
                    if b is None
                    else result.changed_images
                )
                target.append(path)
            else:
                result.changed_files.append(path)
        added, removed, changed = diff_records(
            lambda digest: self.store.read_blob(first["team"], first["name"], digest), m1, m2
        )
        result.added_records, result.removed_records, result.changed_records = added, removed, changed
        return result

    # ------------------------------------------------------------------------------------------ load back

    def manifest(self, card: DataCard) -> Manifest:
        """The manifest of a registered card's version (hash-verified)."""
        return self._loader(card).manifest(card.team, card.name, _registered_version(card))

    def download_data(
        self, card: DataCard, path: str | Path, *, overwrite: bool = False, progress: Progress | None = None
    ) -> ImageDataset:
        """Restore a registered card's folder at ``path`` byte for byte (hashes verified).

        Returns the restored dataset and sets it as ``card.data``. ``path`` must be new or empty unless
        ``overwrite``; ``progress(stage, done, total)`` is called with stage ``download`` (bytes).
        """
        dataset = self._loader(card).download(card, Path(path), overwrite=overwrite, progress=progress)
        card.data = dataset
        return dataset

    def to_hf_dataset(self, card: DataCard, path: str | Path | None = None, **kwargs: Any) -> Any:
        """The card's data as a Hugging Face ``DatasetDict`` with class names from the card (``datasets``
        needed). Uses ``card.data`` when set, else downloads to ``path`` first; ``kwargs`` go to
        ``datasets.load_dataset``."""
        return to_hf_dataset(self._local_data(card, path), card.category_names(), **kwargs)

    def detection_dataset(
        self, card: DataCard, split: str | None = None, path: str | Path | None = None, **kwargs: Any
    ) -> DetectionDataset:
        """A PyTorch-style map dataset of ``(PIL image, {"boxes", "labels", ...})`` over one split of the
        card's data (``card.data``, else downloaded to ``path``); ``kwargs`` go to ``DetectionDataset``."""
        data = self._local_data(card, path)
        return DetectionDataset(data, split=split, category_names=card.category_names(), **kwargs)

    def _local_data(self, card: DataCard, path: str | Path | None) -> ImageDataset:
        if card.data is not None:
            return card.data
        if path is None:
            raise RegistryError("this card has no local data: pass a path to download it to")
        return self.download_data(card, path)

    def _loader(self, card: DataCard) -> CardLoader:
        _registered_version(card)
        query = sa.select(cards.c.manifest_digest).where(
            cards.c.uid == card.uid, cards.c.team == card.team, cards.c.name == card.name
        )
        rows = self._fetch(query)
        if not rows:
            label = f"{card.team}/{card.name} version {card.version} (uid {card.uid})"
            raise CardNotFoundError(f"no data card {label} in this registry")
        return CardLoader(self.store, rows[0].manifest_digest, workers=self.workers)

    # ------------------------------------------------------------------------------------------ helpers

    def _find(
        self, name: str | None, version: str | None, team: str | None, uid: str | None
    ) -> dict[str, Any]:
        if uid is None and name is None:
            raise RegistryError("give a card name (or uid)")
        version = None if version == "latest" else version
        query = _select(name, team, version)
        if uid is not None:
            query = query.where(cards.c.uid == uid)
        rows = [dict(row._mapping) for row in self._fetch(query)]
        label = f"{team + '/' if team else ''}{name or uid}" + (f" version {version}" if version else "")
        if not rows:
            raise CardNotFoundError(f"no data card {label} in the registry")
        teams = sorted({r["team"] for r in rows})
        if len(teams) > 1:
            raise AmbiguousCardError(f"{name} exists in teams {', '.join(teams)}: give the team")
        return max(rows, key=lambda r: versions.parse(r["version"]))

    def _versions(self, team: str, name: str) -> list[Any]:
        query = sa.select(cards.c.version).where(cards.c.team == team, cards.c.name == name)
        return [versions.parse(row.version) for row in self._fetch(query)]

    def _fetch(self, query: Any) -> list[Any]:
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(query))
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            raise RegistryConnectionError(f"registry database error: {error.orig or error}") from None

    def close(self) -> None:
        """Release database connections and the hash cache."""
        self.hash_cache.close()
        self.engine.dispose()


def _select(name: str | None, team: str | None, version: str | None) -> Any:
    """The cards of this name, team and version (each optional; a version matches by precedence)."""
    query = sa.select(cards)
    if name is not None:
        query = query.where(cards.c.name == normalise_name(name))
    if team is not None:
        query = query.where(cards.c.team == normalise_name(team, "team"))
    if version is not None:
        query = query.where(cards.c.version_key == versions.version_key(versions.parse(version)))
    return query


def _registered_version(card: DataCard) -> str:
    """The card's version, or :class:`RegistryError` for a card never registered."""
    if card.uid is None or card.version is None:
        raise RegistryError(
            f"card {card.team}/{card.name} is not registered: register it, or use CardRegistry.load_card"
        )
    return card.version


def _is_stored(present: dict[str, int | None], digest: str, size: int) -> bool:
    """Whether the blob ``digest`` is in storage with ``size`` bytes (or a listing that gives no sizes)."""
    return digest in present and present[digest] in (None, size)


def _scan_or_vanished(root: Path) -> list[FileEntry]:
    try:
        if not root.is_dir():
            raise FileNotFoundError(root)
        return scan(root)
    except FileNotFoundError:
        raise DatasetChangedError(
            f"the dataset folder {root} (or a file in it) vanished during registration"
        ) from None


def _refuse_unless(result: validation.ValidationReport, force: bool) -> None:
    """:class:`DatasetInvalidError` naming the first errors, unless the report is clean or ``force``."""
    if not result.ok and not force:
        lines = [str(issue) for issue in result.issues if issue.severity == "error"][:5]
        raise DatasetInvalidError(
            f"the dataset fails validation ({result.summary()}); fix it or register with force=True:\n  "
            + "\n  ".join(lines),
            result,
        )


def _facts(card: DataCard, manifest: Manifest, stats: DatasetStats | None) -> DataFacts:
    assert card.data is not None
    stats = stats if stats is not None else card.data.stats()
    names = read_names(card.data.image_dir)
    names = names if isinstance(names, list) else []
    ids = sorted(set(stats.category_counts) | set(range(len(names))))
    return DataFacts(
        images=stats.images,
        records=stats.records,
        annotated_images=stats.annotated_images,
        boxes=stats.boxes,
        categories=[
            CategoryFact(
                id=i, name=names[i] if 0 <= i < len(names) else None, boxes=stats.category_counts.get(i, 0)
            )
            for i in ids
        ],
        splits=stats.splits,
        files=len(manifest.entries),
        total_bytes=manifest.total_bytes,
        content_digest=manifest.content_digest,
        rules_fingerprint=rules_fingerprint(),
        metadata=_metadata_name(card),
    )


def _metadata_name(card: DataCard) -> str:
    assert card.data is not None and isinstance(card.data.metadata, str)
    return Path(card.data.metadata).name


@functools.cache
def _validator_source() -> str:
    """A digest of the source of :data:`VALIDATOR_MODULES`."""
    return hash_bytes(b"".join(Path(module.__file__ or "").read_bytes() for module in VALIDATOR_MODULES))


def rules_fingerprint() -> str:
    """Identifies the validation rules: the validator's source, every rule code with its severity, and the
    limits the environment sets (``OPSML_IMAGE_MAX_PIXELS``, ``OPSML_IMAGE_MAX_LINE_BYTES``)."""
    spec = {
        "source": _validator_source(),
        "codes": rules.CODES,
        "max_pixels": images.MAX_PIXELS,
        "max_line_bytes": jsonl.MAX_LINE_BYTES,
    }
    return hash_bytes(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS))


def _row(card: DataCard, manifest_bytes: bytes) -> dict[str, Any]:
    facts = card.facts
    assert facts is not None and card.version is not None
    return {
        "uid": card.uid,
        "team": card.team,
        "name": card.name,
        "version": card.version,
        "version_key": versions.version_key(versions.parse(card.version)),
        "created_at": card.created_at,
        "user_email": card.user_email,
        "description": card.description,
        "tags": card.tags,
        "images": facts.images,
        "records": facts.records,
        "boxes": facts.boxes,
        "files": facts.files,
        "total_bytes": facts.total_bytes,
        "content_digest": facts.content_digest,
        "manifest_digest": hash_bytes(manifest_bytes),
        "validated": bool(card.validated),
        "facts": facts.model_dump(mode="json"),
        "uri": card.uri,
    }


def _card_json(card: DataCard) -> bytes:
    return orjson.dumps(card.to_record(), option=orjson.OPT_INDENT_2) + b"\n"


def _plain(row: Any) -> dict[str, Any]:
    keep = (
        "uid", "team", "name", "version", "created_at", "user_email", "description", "tags", "images",
        "records", "boxes", "files", "total_bytes", "content_digest", "validated", "uri",
    )  # fmt: skip
    out = {k: row[k] for k in keep}
    out["created_at"] = _aware(out["created_at"]).isoformat()
    return out


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_lock_timeout(error: sa.exc.DBAPIError) -> bool:
    return "database is locked" in str(error.orig) or "deadlock detected" in str(error.orig)


class _Stopped(Exception):
    """Copying stopped because validation failed alongside it."""


def _failed(future: Future[Any]) -> bool:
    return future.done() and future.exception() is not None


def _check_unchanged(root: Path, entries: list[FileEntry]) -> None:
    """Raise :class:`DatasetChangedError` unless every scanned file still has its stat (one ``stat`` each,
    no second walk: a file added meanwhile is simply not part of this version, as it was not scanned)."""
    if unchanged(root, {e.path: e.stat for e in entries}):
        return
    if not root.is_dir():
        raise DatasetChangedError(f"the dataset folder {root} vanished during registration")
    raise DatasetChangedError(f"{root} changed during registration: nothing was registered, try again")
