from photosim.core.models.spec import builtin_specs


def test_builtin_specs_include_the_default_resnet50_variants() -> None:
    specs = builtin_specs()
    assert specs["resnet50-v1-12"].dim == 2048
    assert specs["resnet50-v1-12"].file is not None
    assert specs["resnet50-v1-12"].file.size == 102_576_593
    assert specs["resnet50-v1-12-int8"].variant == "int8"
