from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo firm: its data generator (shared with the benchmarks) and the seed commands."""

    name = "demo"
    verbose_name = "Demo firm"
