"""seghub.losses' API: combining losses, building them from configs, argument and input errors,
and that `import seghub` does not import it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

import seghub.losses as L
from seghub.errors import SpecError



@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is fastest, and the machine is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def multiclass_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 4, 4, generator=g), torch.randint(0, 3, (2, 4, 4), generator=g)


# combining


def test_a_weighted_sum_is_the_sum_of_its_weighted_terms():
    x, y = multiclass_batch()
    dice, focal, lovasz = L.DiceLoss("multiclass"), L.FocalLoss("multiclass", gamma=3.0), L.LovaszLoss("multiclass")
    combined = dice + 0.5 * focal + lovasz / 4
    assert isinstance(combined, nn.Module) and isinstance(combined, L.WeightedSum)
    assert combined.weights == (1.0, 0.5, 0.25)
    x = x.requires_grad_(True)
    value = combined(x, y)
    expected = dice(x, y) + 0.5 * focal(x, y) + 0.25 * lovasz(x, y)
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(torch.autograd.grad(value, x)[0], torch.autograd.grad(expected, x)[0])


def test_arithmetic_flattens_and_scales():
    a, b, c = L.DiceLoss("binary"), L.JaccardLoss("binary"), L.MCCLoss()
    assert (a + b + c).weights == (1.0, 1.0, 1.0)
    assert ((a + b) * 2).weights == (2.0, 2.0)
    assert (2 * a).weights == (2.0,) and (a * 0.5).weights == (0.5,)
    assert list((a + 3 * (b + c)).terms) == [a, b, c] and (a + 3 * (b + c)).weights == (1.0, 3.0, 3.0)
    assert sum([a, b]).weights == (1.0, 1.0)
    with pytest.raises(TypeError):
        a + 1
    with pytest.raises(TypeError):
        a * "2"
    with pytest.raises(TypeError):
        a * True


def test_any_torch_loss_can_be_a_term():
    x, y = multiclass_batch()
    combined = nn.CrossEntropyLoss() + L.DiceLoss("multiclass")
    torch.testing.assert_close(combined(x, y), nn.functional.cross_entropy(x, y) + L.DiceLoss("multiclass")(x, y))


def test_reprs_show_the_arguments_that_differ_from_the_defaults():
    combined = L.DiceLoss("multiclass", smooth=1.0) + 0.5 * L.FocalLoss("multiclass", class_weights=[1, 2])
    assert repr(combined) == (
        "DiceLoss(mode='multiclass', smooth=1.0) + 0.5 * FocalLoss(mode='multiclass', class_weights=[1.0, 2.0])"
    )
    assert repr(L.SoftBCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))) == "SoftBCEWithLogitsLoss(pos_weight=[2.0])"
    assert repr(L.MCCLoss()) == "MCCLoss()"


def test_losses_pickle_and_copy():
    """Modules travel by pickle (torch.save, multiprocessing): every loss and sum must survive it."""
    import copy
    import pickle

    x, y = multiclass_batch()
    loss = L.DiceLoss("multiclass", class_weights=[1, 2, 3]) + 0.5 * L.FocalLoss("multiclass", gamma=1.0)
    for clone in (pickle.loads(pickle.dumps(loss)), copy.deepcopy(loss)):
        assert repr(clone) == repr(loss)
        torch.testing.assert_close(clone(x, y), loss(x, y))


def test_weights_follow_the_module_to_a_device_and_dtype():
    loss = (L.DiceLoss("multiclass", class_weights=[1, 2, 3]) + L.SoftBCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))).double()
    assert loss.terms[0].class_weights.dtype == torch.float64
    assert set(loss.state_dict()) == {"terms.1.pos_weight"}  # class weights are not state, as in smp


# configs


def test_build_loss_from_one_config():
    loss = L.build_loss({"name": "dice", "params": {"mode": "multiclass", "smooth": 1.0}})
    assert isinstance(loss, L.DiceLoss) and loss.smooth == 1.0
    bce = L.build_loss({"name": "soft_bce", "params": {"pos_weight": [[[2.0]], [[0.5]]]}})
    assert bce.pos_weight.shape == (2, 1, 1) and bce.pos_weight.dtype == torch.float32
    weighted = L.build_loss(L.LossConfig(name="FocalLoss", params={"mode": "binary"}, weight=0.5))
    assert isinstance(weighted, L.WeightedSum) and weighted.weights == (0.5,)


def test_build_loss_from_a_list_is_their_weighted_sum():
    configs = [
        {"name": "dice", "params": {"mode": "multiclass"}},
        {"name": "focal", "params": {"mode": "multiclass", "gamma": 3.0}, "weight": 0.5},
        {"name": "soft_ce", "params": {"smooth_factor": 0.1, "class_weights": [1, 2, 1]}},
    ]
    loss = L.build_loss(json.loads(json.dumps(configs)))  # what a JSON config gives
    x, y = multiclass_batch()
    expected = (L.DiceLoss("multiclass") + 0.5 * L.FocalLoss("multiclass", gamma=3.0)
                + L.SoftCrossEntropyLoss(smooth_factor=0.1, class_weights=[1, 2, 1]))
    assert repr(loss) == repr(expected)
    torch.testing.assert_close(loss(x, y), expected(x, y))


@pytest.mark.parametrize(
    ("name", "cls"),
    [("dice", "DiceLoss"), ("DiceLoss", "DiceLoss"), ("diceloss", "DiceLoss"), ("soft_bce", "SoftBCEWithLogitsLoss"),
     ("SoftBCEWithLogitsLoss", "SoftBCEWithLogitsLoss"), ("SOFTCROSSENTROPYLOSS", "SoftCrossEntropyLoss"), ("mcc", "MCCLoss")],
)
def test_names_are_snake_case_or_smps_class_names_in_any_case(name, cls):
    params = {"mode": "binary"} if cls in ("DiceLoss",) else {}
    assert type(L.build_loss({"name": name, "params": params})).__name__ == cls


def test_list_losses():
    assert L.list_losses() == ["dice", "jaccard", "tversky", "focal", "lovasz", "soft_bce", "soft_ce", "mcc"]
    for name in L.list_losses():  # every name builds (with its required arguments)
        params = {} if name in ("soft_bce", "soft_ce", "mcc") else {"mode": "multiclass"}
        assert isinstance(L.build_loss({"name": name, "params": params}), L.Loss)


@pytest.mark.parametrize(
    ("config", "path", "fragment"),
    [
        ({"name": "dise", "params": {}}, "loss.name", "Did you mean 'dice'?"),
        ({"name": "FocalLos", "params": {}}, "loss.name", "Did you mean 'focal'?"),
        ({"name": "focal", "params": {"mode": "multiclass", "gamma": -1}}, "loss.params.gamma", "greater than or equal to 0"),
        ({"name": "focal", "params": {"mode": "multiclass", "gama": 2}}, "loss.params.gama", "unknown argument"),
        ({"name": "focal", "params": {}}, "loss.params.mode", "Field required"),
        ({"name": "dice", "params": {"mode": "multi"}}, "loss.params.mode", "'binary', 'multiclass' or 'multilabel'"),
        ({"name": "dice", "params": {"mode": "binary", "class_weights": [1]}}, "loss.params.class_weights", "binary has one"),
        ({"name": "dice", "params": {"mode": "multiclass", "classes": [0, -1]}}, "loss.params.classes[1]", "greater than or equal to 0"),
        ({"name": "soft_bce", "params": {"reduction": "avg"}}, "loss.params.reduction", "'mean', 'sum' or 'none'"),
        ({"name": "lovasz", "params": {"mode": "binary", "class_weights": [1]}}, "loss.params.class_weights", "multiclass"),
        ({"name": "dice", "weight": "heavy"}, "loss.weight", "valid number"),
        ({"name": "dice", "parms": {}}, "loss.parms", "unknown key; a loss config takes name, params, weight"),
        ("dice", "loss", "got str"),
        ([], "loss", "empty list"),
    ],
)
def test_config_errors_are_located(config, path, fragment):
    with pytest.raises(SpecError) as info:
        L.build_loss(config)
    (issue,) = info.value.issues
    assert issue.path == path
    assert fragment in issue.message


def test_every_problem_of_a_list_is_reported_with_its_index():
    with pytest.raises(SpecError) as info:
        L.build_loss([{"name": "dice", "params": {"mode": "binary"}}, {"name": "dise"}, {"name": "mcc", "params": {"eps": 0}}])
    assert [issue.path for issue in info.value.issues] == ["loss[1].name", "loss[2].params.eps"]


def test_params_models_come_from_the_signatures():
    from seghub.losses._params import params_model

    fields = params_model(L.TverskyLoss).model_fields
    assert list(fields)[:3] == ["mode", "classes", "log_loss"]
    assert fields["alpha"].default == 0.5 and fields["gamma"].default == 1.0 and fields["mode"].is_required()
    assert L.LossConfig.model_json_schema()["properties"]["weight"]["default"] == 1.0


# argument errors from Python


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: L.DiceLoss("multi"), "DiceLoss: mode: Input should be 'binary', 'multiclass' or 'multilabel' (got 'multi')"),
        (lambda: L.FocalLoss("binary", class_weights=[1.0]), "FocalLoss: class_weights: class weights need"),
        (lambda: L.JaccardLoss("binary", classes=[1]), "JaccardLoss: classes: choosing classes needs"),
        (lambda: L.TverskyLoss("binary", alpha=-0.1), "TverskyLoss: alpha: Input should be greater than or equal to 0"),
        (lambda: L.SoftCrossEntropyLoss(smooth_factor=1.5), "smooth_factor: Input should be less than or equal to 1"),
        (lambda: L.SoftBCEWithLogitsLoss(pos_weight="two"), "pos_weight"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(call, fragment):
    with pytest.raises(ValueError) as info:
        call()
    assert fragment in str(info.value)


def test_smp_style_tensor_arguments_are_accepted():
    loss = L.DiceLoss("multiclass", classes=torch.tensor([0, 2]), class_weights=torch.tensor([1.0, 1.0, 2.0]))
    assert loss.classes == (0, 2) and loss.class_weights.tolist() == [1.0, 1.0, 2.0]


# input errors


def _raises(loss, x, y, *fragments):
    with pytest.raises(ValueError) as info:
        loss(x, y)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_binary_mode_refuses_several_channels():
    _raises(L.DiceLoss("binary"), torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4), "mode='binary' takes a one-channel", "'multiclass'")


def test_multiclass_mode_refuses_a_one_hot_target():
    x = torch.randn(2, 3, 4, 4)
    y = nn.functional.one_hot(torch.randint(0, 3, (2, 4, 4)), 3).permute(0, 3, 1, 2)
    for loss in (L.DiceLoss("multiclass"), L.FocalLoss("multiclass"), L.LovaszLoss("multiclass"), L.SoftCrossEntropyLoss()):
        _raises(loss, x, y, "class indices of shape (2, 4, 4)", "y_true.argmax(1)", "multilabel")


def test_multiclass_mode_refuses_float_targets():
    _raises(L.JaccardLoss("multiclass"), torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4), "integer tensor; got torch.float32", "y_true.long()")


@pytest.mark.parametrize("loss", [L.DiceLoss("multiclass"), L.FocalLoss("multiclass"), L.LovaszLoss("multiclass"), L.SoftCrossEntropyLoss()], ids=repr)
def test_class_indices_outside_the_classes_are_refused(loss):
    y = torch.randint(0, 3, (2, 4, 4))
    y[0, 0, 0] = 3
    _raises(loss, torch.randn(2, 3, 4, 4), y, "holds class 3, outside [0, 3)")


def test_the_fix_for_an_out_of_range_class_names_ignore_index():
    y = torch.zeros(2, 4, 4, dtype=torch.long)
    y[0, 0, 0] = 255
    _raises(L.DiceLoss("multiclass"), torch.randn(2, 3, 4, 4), y, "set ignore_index=255")
    assert L.DiceLoss("multiclass", ignore_index=255)(torch.randn(2, 3, 4, 4), y).isfinite()
    y[0, 0, 1] = -1
    _raises(L.DiceLoss("multiclass", ignore_index=255), torch.randn(2, 3, 4, 4), y, "class -1", "only ignore_index=255")


@pytest.mark.parametrize("loss", [L.DiceLoss("binary"), L.FocalLoss("binary"), L.SoftBCEWithLogitsLoss(), L.MCCLoss()], ids=repr)
def test_binary_targets_outside_zero_one_are_refused(loss):
    _raises(loss, torch.randn(2, 1, 4, 4), torch.full((2, 1, 4, 4), 2.0), "holds 2, outside [0, 1]")


def test_multilabel_mode_needs_the_predictions_shape():
    _raises(L.DiceLoss("multilabel"), torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4), "shape (2, 3, 4, 4)", "mode='multiclass'")


def test_multiclass_mode_needs_two_classes():
    _raises(L.FocalLoss("multiclass"), torch.randn(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long), "at least 2 classes", "'binary'")


def test_class_weights_and_classes_must_fit_the_prediction():
    _raises(L.DiceLoss("multiclass", class_weights=[1, 2]), *multiclass_batch(), "class_weights has 2 entries", "3 classes")
    _raises(L.DiceLoss("multiclass", classes=[0, 5]), *multiclass_batch(), "names class 5", "3 classes")


def test_batch_sizes_must_match():
    _raises(L.LovaszLoss("multiclass"), torch.randn(2, 3, 4, 4), torch.zeros(3, 4, 4, dtype=torch.long), "same batch size")


def test_value_checks_run_every_call_on_the_cpu_and_once_elsewhere():
    loss = L.DiceLoss("binary")
    assert all(loss._check_values_now(torch.zeros(1)) for _ in range(3))
    on_device = torch.zeros(1, device="meta")
    assert [loss._check_values_now(on_device) for _ in range(3)] == [True, False, False]


# packaging and docs


def test_import_seghub_does_not_import_the_losses():
    check = "import sys, seghub; print('seghub.losses' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
