"""ExportOptions: every value is checked once, when the options are made, and a refused value
names its field (and on the command line its option), before anything is read or written."""
from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from dcgan.export import ExportError, ExportOptions, OptionError, export_discriminator, export_generator
from dcgan.export.cli import main
from dcgan.export.options import export_options

from export_helpers import files_in


@pytest.mark.parametrize(
    "field, value, says",
    [
        ("atol", 0.0, "atol must be a positive, finite number, got 0.0"),
        ("atol", math.nan, "atol must be a positive, finite number, got nan"),
        ("atol", math.inf, "atol must be a positive, finite number, got inf"),
        ("precision", "bf16", "precision must be one of fp32, fp16, int8, got 'bf16'"),
        ("min_psnr", math.nan, "min_psnr must be a number"),
        ("quality_images", 1, "quality_images must be 2 or more, got 1"),
        ("calibration_inputs", 0, "calibration_inputs must be 1 or more, got 0"),
        ("bn_latents", -1, "bn_latents must be 0 or more, got -1"),
    ],
)
def test_a_bad_value_is_refused_with_its_field_named(field, value, says):
    with pytest.raises(OptionError) as info:
        ExportOptions(**{field: value})
    e = info.value
    assert str(e) == says and e.option == field
    assert isinstance(e, ExportError) and isinstance(e, ValueError)


def test_keywords_replace_fields_of_the_given_options_and_are_checked_again(small_run, tmp_path):
    given = ExportOptions(checks=False, ema=True, atol=1e-3)
    report = export_generator(small_run, tmp_path / "g.onnx", given, ema=False)
    assert report.ema is False and not report.checked and report.atol == 1e-3
    with pytest.raises(OptionError, match="^atol"):
        export_options(given, atol=-1.0)
    assert given.atol == 1e-3  # the caller's options are left as they were


def test_a_bad_keyword_leaves_nothing_behind(small_run, tmp_path):
    with pytest.raises(OptionError, match="^calibration_inputs"):
        export_discriminator(small_run, tmp_path / "d.onnx", precision="int8", calibration_inputs=0)
    with pytest.raises(TypeError, match="no_such_option"):
        export_generator(small_run, tmp_path / "g.onnx", no_such_option=1)
    assert files_in(tmp_path) == []


@pytest.mark.parametrize("option, value, says", [
    ("--atol", "inf", "Invalid value for --atol: must be a positive, finite number, got inf"),
    ("--min-psnr", "nan", "Invalid value for --min-psnr: must be a number"),
])
def test_the_command_line_reports_a_refused_value_under_its_option(small_run, tmp_path, option, value, says):
    result = CliRunner().invoke(main, [str(tmp_path / "m.onnx"), "--checkpoint", str(small_run), option, value])
    assert result.exit_code == 2
    assert result.stderr == f"dcgan-export: error: {says}\n"
    assert files_in(tmp_path) == []
