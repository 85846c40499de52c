"""Home: the lessons with how far the learner got, the quiz, help, and which data sets are here
(``D`` downloads the missing ones)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from kqv_cli.tui.screens.base import KqvScreen
from lessons.curriculum import quiz_topic

CONTINUE = "continue"
QUIZ_ALL = "quiz:all"
LAB = "lab"
PRACTICE = "practice"
TRAIN = "train"
HELP = "help"


class HomeScreen(KqvScreen):
    SUB_TITLE = "lessons"  # each screen's own: the Header on this one shows "kqv — lessons"
    HELP_TITLE = "Home"
    WIDGET_KEYS = [("↑ ↓", "choose a lesson"), ("enter", "open it where you left it")]
    HELP_NOTE = ("Every screen has the same three keys: esc goes back (stopping first whatever "
                 "runs), q goes back too (here it quits), and ? lists that screen's keys.")
    BINDINGS = [
        Binding("t", "quiz", "Quiz", tooltip="quiz on the chosen lesson's topic"),
        Binding("l", "lab", "Lab", tooltip="lab: what if...? variants trained side by side"),
        Binding("w", "practice", "Practice", tooltip="practice: write the engine's functions, graded"),
        Binding("m", "train", "Train", tooltip="train a model (the digit net or the GPT), live"),
        Binding("D", "data", "Data", tooltip="the data sets (MNIST, Tiny Shakespeare, the English-French "
                "pairs): which are here; download the missing ones"),
        Binding("escape", "back", "", show=False),  # nothing to go back to: esc does not quit
        Binding("q", "app.quit", "Quit", tooltip="quit (progress is saved)"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="")
        yield Static(
            "Watch a small numpy engine run, with every variable's shape in view.\n"
            "[dim]↑↓ choose · enter open · t quiz · l lab · w practice · m train · ? help[/dim]",
            id="home-intro",
        )
        yield Static(id="home-data")
        yield OptionList(id="home-menu")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_menu()
        self.refresh_data()
        self.query_one(OptionList).focus()

    def on_screen_resume(self) -> None:
        self.refresh_menu()
        self.refresh_data()

    def refresh_data(self) -> None:
        """One line: each data set ✓ here or ✗ not, and the key that fetches the missing ones."""
        from kqv_cli.services.datasets import DATA_SETS

        here = {ds.key: ds.find() is not None for ds in DATA_SETS}
        line = Text("data: ")
        for ds in DATA_SETS:
            line.append("✓ " if here[ds.key] else "✗ ", style="green" if here[ds.key] else "yellow")
            line.append(f"{ds.title}  ")
        line.rstrip()
        if not all(here.values()):
            line.append(" · ").append("D", style="bold").append(" fetches them")
        self.query_one("#home-data", Static).update(line)

    def refresh_menu(self) -> None:
        """Rebuild the list from the progress store, keeping the highlighted entry."""
        menu = self.query_one(OptionList)
        keep = menu.highlighted_option.id if menu.highlighted_option is not None else None
        menu.clear_options()
        last = self.continue_lesson()
        if last is not None:
            ids = [step.id for step in last.steps]
            at = self.app.progress.position_index(last.id, ids)
            menu.add_option(Option(Text.assemble(
                ("Continue", "bold"), f"  {last.title}, step {at + 1}: {last.steps[at].title}"),
                id=CONTINUE))
            menu.add_option(None)
        scores = self.app.quiz_scores()
        for lesson in self.app.lessons:
            quiz = scores.get(quiz_topic(lesson.id))
            menu.add_option(Option(self.lesson_prompt(lesson, quiz), id=lesson.id))
        menu.add_option(None)
        menu.add_option(Option(Text.assemble(("Quiz", "bold"), ("  all topics, dimensions from real runs",
                                                              "dim")), id=QUIZ_ALL))
        menu.add_option(Option(Text.assemble(("Practice", "bold"), ("  write the engine's functions; "
                                                                  "kqv grades every variable", "dim")),
                               id=PRACTICE))
        menu.add_option(Option(Text.assemble(("Lab", "bold"), ("  what if...? train variants side by side",
                                                             "dim")), id=LAB))
        menu.add_option(Option(Text.assemble(("Train", "bold"), ("  the digit net or the GPT, live",
                                                               "dim")), id=TRAIN))
        menu.add_option(Option(Text.assemble(("Help", "bold"), ("  keys and how to read the screens",
                                                              "dim")), id=HELP))
        ids = [option.id for option in menu.options]
        if last is not None:
            keep = CONTINUE  # back from a lesson (or a fresh start): continuing is the likely move
        menu.highlighted = ids.index(keep) if keep in ids else 0

    def continue_lesson(self):
        """The lesson left last; once it is finished, the next one not finished."""
        last = self.app.progress.last
        lesson = next((lesson for lesson in self.app.lessons if lesson.id == last), None)
        if lesson is not None and self.app.finished(lesson):
            return self.app.next_lesson(lesson.id)
        return lesson

    def lesson_prompt(self, lesson, quiz: str | None) -> Text:
        progress = self.app.progress
        ids = [step.id for step in lesson.steps]
        seen = progress.seen_count(lesson.id, ids)
        status = f"seen {seen}/{len(ids)} steps"
        if seen == len(ids):
            status = f"✓ finished, all {len(ids)} steps seen"
        elif seen:
            status += f" · continue at step {progress.position_index(lesson.id, ids) + 1}"
        if quiz:
            status += f" · quiz {quiz}"
        return Text.assemble((lesson.title, "bold"), "\n", lesson.summary, "\n", (status, "dim"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id
        if choice == CONTINUE:
            self.app.open_lesson(self.continue_lesson().id)
        elif choice == QUIZ_ALL:
            self.app.open_quiz("all")
        elif choice == LAB:
            self.action_lab()
        elif choice == PRACTICE:
            self.action_practice()
        elif choice == TRAIN:
            self.action_train()
        elif choice == HELP:
            self.action_help()
        else:
            self.app.open_lesson(choice)

    def leave(self) -> None:
        self.notify("this is home: q quits", timeout=2)

    def action_lab(self) -> None:
        from kqv_cli.tui.screens.lab import LabScreen

        self.app.push_screen(LabScreen())

    def action_practice(self) -> None:
        self.app.open_practice()

    def action_data(self) -> None:
        from kqv_cli.tui.screens.data import DataScreen

        self.app.push_screen(DataScreen())

    def action_train(self) -> None:
        from kqv_cli.tui.screens.train import TrainScreen

        # one Train screen for the app's life: back on it, the last run is still on show
        if not self.app.is_screen_installed("train"):
            self.app.install_screen(TrainScreen(), "train")
        self.app.push_screen("train")

    def action_quiz(self) -> None:
        menu = self.query_one(OptionList)
        option = menu.highlighted_option
        lesson_ids = {lesson.id for lesson in self.app.lessons}
        topic = quiz_topic(option.id) if option is not None and option.id in lesson_ids else "all"
        self.app.open_quiz(topic)
