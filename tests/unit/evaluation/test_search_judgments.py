from pathlib import Path

from streamrec.evaluation.search_evaluation import load_judgments
from streamrec.rerank.query_split import query_split
from tests.data_files import write_csv


def test_the_test_split_keeps_only_the_rerank_held_out_queries(tmp_path: Path):
    queries = [f"query number {i}" for i in range(60)]
    write_csv(tmp_path / "homedepot" / "judgments_dev.csv", ["query", "product_uid", "relevance"],
              [(q, str(i), "2.5") for i, q in enumerate(queries)] + [(queries[0], "999", "1")])
    everything = load_judgments(tmp_path, None, None, "all")
    held_out = load_judgments(tmp_path, None, None, "test")
    assert len(everything) == 60
    assert set(held_out) == {q for q in queries if query_split(q) == "test"}
    assert 0 < len(held_out) < 60
    assert everything[queries[0]] == {"hd-0": 2.5, "hd-999": 1.0}


def test_judgments_of_unpublished_products_and_a_query_sample_are_dropped(tmp_path: Path):
    write_csv(tmp_path / "homedepot" / "judgments_dev.csv", ["query", "product_uid", "relevance"],
              [("drill", "1", "3"), ("drill", "2", "1"), ("saw", "3", "2"), ("hose", "4", "2")])
    judgments = load_judgments(tmp_path, {"hd-1", "hd-3", "hd-4"}, None)
    assert judgments == {"drill": {"hd-1": 3.0}, "hose": {"hd-4": 2.0}, "saw": {"hd-3": 2.0}}
    assert len(load_judgments(tmp_path, None, 2)) == 2


def test_a_distinct_load_never_repeats_a_query_nor_one_already_asked(tmp_path: Path):
    from streamrec.evaluation.search_evaluation import (
        SearchEvaluationConfig,
        distinct_load_queries,
    )

    queries = [f"query number {i}" for i in range(60)]
    write_csv(tmp_path / "homedepot" / "judgments_dev.csv", ["query", "product_uid", "relevance"],
              [(q, str(i), "2") for i, q in enumerate(queries)])
    asked = {"Query  Number 1", "query number 2"}  # as the single-client pass sent them
    config = SearchEvaluationConfig(data_dir=tmp_path, split="test", load_requests=40)
    load = distinct_load_queries(config, asked)
    assert len(load) == len(set(load)) == 40
    assert not {"query number 1", "query number 2"} & set(load)
    # every split: the load phase is not scored, it only needs queries never embedded
    assert {query_split(q) for q in load} > {"test"}
    assert len(distinct_load_queries(
        SearchEvaluationConfig(data_dir=tmp_path, load_requests=500), asked)) == 58
