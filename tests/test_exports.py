import multifetch


def test_all_is_sorted_and_complete() -> None:
    assert multifetch.__all__ == sorted(multifetch.__all__)
    for name in multifetch.__all__:
        assert hasattr(multifetch, name), name
    public = {n for n in dir(multifetch) if not n.startswith("_") and n not in {
        "cli", "engine", "inputs", "observe", "outputs", "report", "runners", "testing", "transports"}}
    assert public - {"__version__"} <= set(multifetch.__all__)
