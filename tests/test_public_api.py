import stackkit


def test_public_names_are_pinned() -> None:
    assert stackkit.__all__ == [
        "Backend",
        "Controller",
        "ProblemError",
        "Resource",
        "Settings",
        "SettingsError",
        "ValidationProblem",
        "__version__",
        "create_app",
        "load_settings",
    ]
    for name in stackkit.__all__:
        assert hasattr(stackkit, name)
