"""Data-root variables, metainfo and number of classes through config inheritance; the tools'
data checks (mmseg_uda/utils/data_config.py) and DefectDataset's split candidates."""

import json
import os.path as osp

import pytest

from helpers import REPO, write_dataset
from mmseg_uda.datasets.defect_dataset import DatasetError, DefectDataset
from mmseg_uda.utils import DataConfigError, check_data, data_provenance, load_config

HRDA_CPU = osp.join(REPO, "configs", "hrda_cracks_cpu.py")
DACS_CPU = osp.join(REPO, "configs", "dacs_cracks_cpu.py")
HRDA = osp.join(REPO, "configs", "hrda_cracks.py")
SCRATCH = "metainfo = dict(classes=('background', 'scratch'), palette=[[0, 0, 0], [0, 255, 0]])\n"


def child(tmp_path, body, base=HRDA_CPU, name="child.py"):
    path = tmp_path / name
    path.write_text(f"_base_ = [{base!r}]\n{body}")
    return str(path)


def roots(cfg):
    data = cfg.train_dataloader.dataset
    return (data.source.data_root, data.target.data_root, cfg.val_dataloader.dataset.data_root,
            cfg.test_dataloader.dataset.data_root)


def test_child_config_roots_and_classes_take_effect_everywhere(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_ROOT", raising=False)
    monkeypatch.setenv("TARGET_ROOT", "/ignored/by/the/literal")
    path = child(tmp_path, SCRATCH + "source_root = '{{$SOURCE_ROOT:data/scratches}}'\n"
                 "target_root = '/photos'\n")
    cfg = load_config(path)
    assert roots(cfg) == ("data/scratches", "/photos", "/photos", "/photos")
    for ds in (cfg.train_dataloader.dataset.source, cfg.train_dataloader.dataset.target,
               cfg.val_dataloader.dataset, cfg.test_dataloader.dataset):
        assert ds.metainfo["classes"] == ("background", "scratch")
    # a child with three classes: every head of the model follows metainfo
    three = ("metainfo = dict(classes=('background', 'scratch', 'dent'), "
             "palette=[[0, 0, 0], [0, 255, 0], [0, 0, 255]])\n")
    cfg = load_config(child(tmp_path, three, base=HRDA, name="three.py"))
    heads = cfg.model.segmentor.decode_head
    assert heads.decoder.num_classes == heads.attention_decoder.num_classes == 3
    # ... but a per-class weight cannot be guessed: named, with the number of classes
    with pytest.raises(DataConfigError, match=r"class_weight has 2 values \[1.0, \d.\d\] but "
                                              r"metainfo names 3 classes"):
        load_config(child(tmp_path, three, base=DACS_CPU, name="dacs3.py"))
    cfg = load_config(child(tmp_path, three, base=DACS_CPU, name="dacs3.py"),
                      {"model.segmentor.decode_head.loss_decode.class_weight": [1, 5, 5],
                       "model.pseudo_class_weight": [1, 0.2, 0.2]})
    assert cfg.model.segmentor.decode_head.num_classes == 3
    # the environment variable of the child's own definition still works
    monkeypatch.setenv("SOURCE_ROOT", "/env/source")
    assert roots(load_config(path))[0] == "/env/source"


def test_cfg_options_variable_propagates_but_explicit_dataset_key_is_kept(tmp_path):
    cfg = load_config(HRDA_CPU, {"target_root": "/t",
                                 "val_dataloader.dataset.data_root": "/labeled"})
    assert roots(cfg)[1:] == ("/t", "/labeled", "/t")
    # base values where no variable is overridden (the UDA configs are unchanged)
    assert load_config(HRDA_CPU).train_dataloader.dataset.target.data_root == \
        load_config(HRDA_CPU).target_root


def test_number_of_classes_that_disagrees_with_metainfo_is_refused(tmp_path):
    with pytest.raises(DataConfigError, match=r"num_classes = 3 but metainfo names 2 classes"):
        load_config(child(tmp_path, "num_classes = 3\n"))
    with pytest.raises(DataConfigError, match=r"decoder.num_classes=3 but metainfo names 2"):
        load_config(HRDA_CPU, {"model.segmentor.decode_head.decoder.num_classes": 3})


def test_saved_config_keeps_data_roots_overridable(tmp_path, monkeypatch):
    monkeypatch.setenv("TARGET_ROOT", "/first")
    saved = str(tmp_path / "saved.py")
    load_config(HRDA_CPU).dump(saved)  # what the Runner writes into the work dir
    monkeypatch.setenv("TARGET_ROOT", "/second")
    cfg = load_config(saved)
    assert roots(cfg)[1:] == ("/second", "/second", "/second")
    monkeypatch.delenv("TARGET_ROOT")
    assert roots(load_config(saved))[1:] == ("/first", "/first", "/first")


def test_missing_folders_name_their_variable_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_ROOT", str(tmp_path / "src"))
    monkeypatch.setenv("TARGET_ROOT", str(tmp_path / "photo"))  # misspelt
    write_dataset(str(tmp_path / "src"), num=3)
    with pytest.raises(DatasetError) as err:
        check_data(load_config(HRDA_CPU), "train")
    message = str(err.value)
    assert "\n" not in message and "source" not in message.split("not found")[0]
    assert f"target and evaluation data folder not found: '{tmp_path / 'photo'}'" in message
    assert "set by TARGET_ROOT, default 'data/cfd'" in message
    # a literal in a child config names the variable and the file
    path = child(tmp_path, "target_root = '/no/such/folder'\n")
    with pytest.raises(DatasetError, match=r"set by target_root in .*child.py"):
        check_data(load_config(path), "train")


def test_images_only_target_trains_without_evaluation_and_is_refused_by_test(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("SOURCE_ROOT", write_dataset(str(tmp_path / "src"), num=3))
    photos = write_dataset(str(tmp_path / "photos"), num=3, with_masks=False, splits={})
    monkeypatch.setenv("TARGET_ROOT", photos)
    cfg = load_config(HRDA_CPU)
    notes = check_data(cfg, "train")
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert len(notes) == 1 and notes[0].startswith("no target evaluation") and photos in notes[0]
    with pytest.raises(DatasetError, match="has no masks/ folder.*tools/predict.py"):
        check_data(load_config(HRDA_CPU), "test")


def test_meta_json_classes_must_match_the_config(tmp_path, monkeypatch):
    src = write_dataset(str(tmp_path / "src"), num=3)
    monkeypatch.setenv("SOURCE_ROOT", src)
    monkeypatch.setenv("TARGET_ROOT", write_dataset(str(tmp_path / "tgt"), num=3))
    path = child(tmp_path, SCRATCH)
    for classes, expected in ((["background", "crack"], r"names the classes \('background', "
                               r"'crack'\) but the config's metainfo.classes are \('background'"
                               r", 'scratch'\)"),
                              (["background", "scratch", "dent"], r"has 3 classes .* but the "
                               r"config has 2")):
        with open(osp.join(src, "meta.json"), "w") as f:
            json.dump({"classes": classes}, f)
        with pytest.raises(DatasetError, match=expected):
            check_data(load_config(path), "train")
        with pytest.raises(DatasetError, match=expected):  # the dataset itself, too
            DefectDataset(data_root=src, split="train.txt",
                          metainfo=dict(classes=("background", "scratch")), pipeline=[])
    with open(osp.join(src, "meta.json"), "w") as f:
        json.dump({"classes": ["background", "Scratch"]}, f)
    check_data(load_config(path), "train")


def test_split_candidates(tmp_path):
    root = write_dataset(str(tmp_path / "gen"), num=5,
                         splits={"train.txt": range(3), "val.txt": range(3, 5)})
    val = DefectDataset(data_root=root, split=["test.txt", "val.txt"], pipeline=[],
                        test_mode=True)
    assert len(val) == 2 and val.split == "val.txt" and val.split_note == "no test.txt"
    photos = write_dataset(str(tmp_path / "photos"), num=4, with_masks=False, splits={})
    everything = DefectDataset(data_root=photos, split=["train.txt", None], with_masks=False,
                               pipeline=[])
    assert len(everything) == 4 and everything.split == ""
    with pytest.raises(DatasetError, match=r"split file not found: .*test.txt.* \(tried "
                                           r"\['test.txt', 'ok.txt'\]\)"):
        DefectDataset(data_root=photos, split=["test.txt", "ok.txt"], with_masks=False,
                      pipeline=[])
    with pytest.raises(DatasetError, match="needed by this evaluation set"):
        DefectDataset(data_root=photos, split=None, pipeline=[], test_mode=True)


def test_provenance_of_the_test_set(tmp_path, monkeypatch):
    monkeypatch.setenv("TARGET_ROOT", str(tmp_path))
    (tmp_path / "val.txt").write_text("a\n")
    prov = data_provenance(load_config(HRDA_CPU))
    assert prov == dict(data_root=str(tmp_path), split="val.txt", variable="TARGET_ROOT")


def test_dataset_file_errors_come_from_check_data(tmp_path, monkeypatch):
    import cv2
    import numpy as np

    src = write_dataset(str(tmp_path / "src"), num=3)
    cv2.imwrite(osp.join(src, "masks", "0000.png"), np.zeros((10, 10), np.uint8))
    monkeypatch.setenv("SOURCE_ROOT", src)
    monkeypatch.setenv("TARGET_ROOT", write_dataset(str(tmp_path / "tgt"), num=3))
    cfg = load_config(HRDA_CPU)
    assert check_data(cfg, "train", build=False) == []  # folders, classes: fine
    with pytest.raises(DatasetError, match=r"0000.png' is 10x10 \(WxH\) but its image"):
        check_data(cfg, "train")  # the datasets' own checks, before any Runner


def test_untraceable_variable_is_reported(tmp_path, monkeypatch):
    from mmseg_uda.utils import data_config

    logged = []
    monkeypatch.setattr(data_config, "print_log", lambda msg, **kw: logged.append(msg))
    literal = tmp_path / "literal.py"  # a base that sets a root without the variable
    literal.write_text(f"_base_ = [{HRDA_CPU!r}]\ntrain_dataloader = dict(dataset=dict("
                       "source=dict(data_root='/fixed')))\n")
    cfg = load_config(child(tmp_path, "source_root = '/mine'\n", base=str(literal)))
    assert cfg.train_dataloader.dataset.source.data_root == "/fixed"
    assert len(logged) == 1 and "source_root = '/mine' is used by no dataset" in logged[0]
