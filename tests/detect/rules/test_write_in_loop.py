"""write-in-loop: per-row writes, counted per operation."""

from __future__ import annotations

import pytest
from django.db import transaction

import djperf
from tests.helpers import ROOT, line, of, third_party_package
from tests.testapp.models import Author, Book, Member, Publisher, Review, SluggedTag, Stock, Tag

pytestmark = pytest.mark.django_db
HERE = __file__


def _sent(rec, verb):
    """The statements of the capture that start with `verb` (INSERT, UPDATE...)."""
    return [q for q in rec.queries if q.sql.lstrip().upper().startswith(verb)]


# -- must flag ---------------------------------------------------------------------


def test_create_in_a_loop(library):
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.create(name=f"new {i}")  # create-in-loop
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 5)
    assert finding.fix.method == "bulk_create"
    assert finding.fix.text == "Tag.objects.bulk_create(objs)"
    assert str(finding.location) == line(HERE, "create-in-loop")


def _label(tag, labelled):
    labelled.append(tag.pk)


def test_a_created_row_used_after_is_collected_and_used_after_the_bulk_write(library):
    labelled: list[int] = []
    with djperf.capture() as rec:
        for i in range(4):
            tag = Tag.objects.create(name=f"new {i}")  # create-then-use
            tag.save()
            _label(tag, labelled)
    assert len(labelled) == 4
    [finding] = [f for f in of(rec, "write-in-loop") if f.fix.method == "bulk_create"]
    assert str(finding.location) == line(HERE, "create-then-use")
    # The loop goes on with each new row (it needs its key): that work moves
    # after the one bulk write, which sets the keys.
    assert finding.fix.text == (
        "Tag.objects.bulk_create(objs)  # build each Tag(...) unsaved and collect them "
        "across the loop; after the bulk_create (it sets their keys on PostgreSQL, MariaDB "
        "and SQLite) do what the loop did with each one: _label(tag, labelled)"
    )


def test_save_in_a_loop_names_the_fields(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.title = book.title.upper()
            book.save(update_fields=["title"])
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "bulk_update"
    assert finding.fix.text == "Book.objects.bulk_update(objs, ['title'])"


def test_full_save_in_a_loop(library):
    with djperf.capture() as rec:
        for publisher in Publisher.objects.all():
            publisher.save()
        for author in Author.objects.all():
            author.save()
    [finding] = of(rec, "write-in-loop")
    assert finding.model == "testapp.Author"
    assert finding.fix.text == "Author.objects.bulk_update(objs, ['name'])"


def test_delete_in_a_loop_is_one_finding_despite_cascades(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.delete()  # delete-in-loop
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Book", 6)
    assert finding.fix.text == "Book.objects.filter(pk__in=ids).delete()"
    assert str(finding.location) == line(HERE, "delete-in-loop")


def test_many_to_many_set_in_a_loop(library):
    tags = list(Tag.objects.all())
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.tags.set(tags)
    [finding] = of(rec, "write-in-loop")
    assert finding.model == "testapp.Book_tags"
    assert finding.fix.text.startswith("Book.tags.through.objects.bulk_create(")
    assert "Book.tags rows" in finding.message


def test_queryset_update_in_a_loop(library):
    with djperf.capture() as rec:
        for i, book in enumerate(Book.objects.all()):
            Book.objects.filter(title=book.title).update(summary=str(i))  # qs-update
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "update"
    # Each update() is one statement already: the fix is about the loop.
    assert finding.fix.text == (
        f"collect the keys of the rows in the loop that runs the update() at "
        f"{line(HERE, 'qs-update')}, then one Book.objects.filter(<key>__in=keys).update(...) "
        "after it (values that differ per row: Case(When(<key>=..., then=...)))"
    )


def test_a_queryset_update_run_by_another_models_save_loses_nothing(library):
    # Book.save() (GuardedBook's) updates Reviews with a queryset update():
    # no Review.save() or signal ran, so none is named as lost.
    from django.db.models.signals import post_save

    def touch_reviews(sender, instance, **kwargs):
        Review.objects.filter(book_id=instance.pk).update(rating=3)  # touch

    post_save.connect(touch_reviews, sender=Book)
    post_save.connect(_noop_review_receiver, sender=Review)
    try:
        with djperf.capture() as rec:
            for book in Book.objects.all():
                book.save(update_fields=["title"])  # saving-books
    finally:
        post_save.disconnect(touch_reviews, sender=Book)
        post_save.disconnect(_noop_review_receiver, sender=Review)
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Review"]
    # The receiver runs once per save: one update for all fits only where
    # the saves repeat, with the per-save update stopped.
    assert finding.fix.text == (
        "no code for this line: touch_reviews() runs inside each write or signal at "
        f"{line(HERE, 'saving-books')} (a signal receiver, or a save() override), once per "
        "write, and sends this update of Review rows each time. One update for the rows of "
        f"every save fits only where the saves repeat (the loop at {line(HERE, 'saving-books')} "
        "in test_a_queryset_update_run_by_another_models_save_loses_nothing()), after them: "
        "that code would stop the per-save update "
        "while it runs and make one update() for all the objects it saved"
    )
    assert "skip" not in finding.fix.text


def test_a_receiver_with_a_loop_of_its_own_keeps_the_loops_update(library):
    # As oscar's order_placed receiver: one signal per order, a counter
    # update() per order line inside it. The loop is the receiver's own.
    from django.dispatch import Signal

    placed = Signal()

    def count_lines(sender, books, **kwargs):
        for book in books:  # receivers-own-loop
            Review.objects.filter(book_id=book.pk).update(rating=2)

    placed.connect(count_lines)
    books = list(Book.objects.all())
    with djperf.capture() as rec:
        placed.send(sender=None, books=books)
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Review"]
    assert finding.fix.text.startswith("collect the keys of the rows in the loop")
    assert "runs inside each write or signal" not in finding.fix.text


def _noop_review_receiver(sender, instance, **kwargs):
    pass


def test_create_user_in_a_loop_is_the_users_write(library):
    # django.contrib.auth's manager is not bookkeeping: it writes the user's rows.
    from django.contrib.auth.models import User

    with djperf.capture() as rec:
        for i in range(4):
            User.objects.create_user(f"new{i}")  # create-user
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("auth.User", 4)
    assert str(finding.location) == line(HERE, "create-user")


def test_update_keyed_by_a_foreign_key_is_no_bulk_update(library):
    # "author_id = %s" is not the primary key: bulk_update would not do it.
    with djperf.capture() as rec:
        for author in Author.objects.all():
            Book.objects.filter(author_id=author.pk).update(summary="x")
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "update"


def test_many_to_many_remove_in_a_loop_deletes_through_rows(library):
    tag = Tag.objects.get(name="t0")
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.tags.remove(tag)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "delete"
    assert finding.fix.text.startswith("Book.tags.through.objects.filter(")


@pytest.mark.parametrize("existing", [False, True], ids=["creating", "existing"])
def test_get_or_create_in_a_loop_is_one_finding(library, existing):
    names = [f"t{i}" if existing else f"new {i}" for i in range(3)] * 2
    with djperf.capture() as rec:
        for name in names:
            Tag.objects.get_or_create(name=name)  # goc-in-loop
    assert [f.rule for f in rec.findings] == ["write-in-loop"]
    [finding] = rec.findings
    assert finding.count == 6
    assert finding.fix.method == "bulk_create"
    # Tag.name is not unique: in_bulk() would refuse it; a dict keeps every name.
    assert finding.fix.text.startswith(
        "found = {obj.name: obj for obj in Tag.objects.filter(name__in=keys)}, then "
        "Tag.objects.bulk_create(<the missing ones>)"
    )
    assert str(finding.location) == line(HERE, "goc-in-loop")


def test_get_or_create_by_a_unique_column_reads_them_with_in_bulk(library):
    from tests.testapp.models import Bio

    authors = list(Author.objects.all()) * 2
    with djperf.capture() as rec:
        for author in authors:
            Bio.objects.get_or_create(author=author)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith(
        "found = Bio.objects.in_bulk(keys, field_name='author'), then "
        "Bio.objects.bulk_create(<the missing ones>)"
    )


def test_a_get_or_create_of_the_same_row_on_every_row_is_run_once(library):
    # An importer asking for its one partner on every line of a file.
    with djperf.capture() as rec:
        for _ in range(4):
            Tag.objects.get_or_create(name="imported")  # same-row
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "same-row")
    assert finding.fix.method == "reuse"
    assert finding.fix.text == (
        "every get_or_create() of Tag looks up the same row: run it once before the "
        "loop and reuse the object"
    )


def test_the_same_row_only_by_this_runs_data_is_looked_up_by_value(library):
    # An importer reading the partner's name from each line: one name in the
    # test's file, any name in a real one; "run it once" would be wrong.
    lines = [{"partner": "Gardners"}] * 4
    with djperf.capture() as rec:
        for row in lines:
            Tag.objects.get_or_create(name=row["partner"])  # from-the-data
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith(
        "found = {obj.name: obj for obj in Tag.objects.filter(name__in=keys)}"
    )


def _partner_named(name):
    return Tag.objects.get_or_create(name=name)[0]  # partner-lookup


def _import_line(row):
    return _partner_named(row["partner"])  # import-line


def test_a_get_or_create_two_calls_from_its_loop_keeps_a_dictionary_there(library):
    lines = [{"partner": "Gardners"}, {"partner": "Bertrams"}] * 2
    with djperf.capture() as rec:
        partners = []
        for row in lines:
            partners.append(_import_line(row))  # import-loop
    assert len({p.pk for p in partners}) == 2
    [finding] = of(rec, "write-in-loop")
    # The importer uses each partner at once: a dictionary in the loop, not
    # rows handed back for a bulk write.
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'import-loop')} in "
        "test_a_get_or_create_two_calls_from_its_loop_keeps_a_dictionary_there(), 2 calls out from "
        f"{line(HERE, 'partner-lookup')} (through _import_line() at {line(HERE, 'import-line')}) "
        "repeats the get_or_create() calls, one per pass, and the code uses each Tag right "
        "away. Keep a dictionary in "
        "test_a_get_or_create_two_calls_from_its_loop_keeps_a_dictionary_there() from the values "
        "looked up to the Tag, "
        "filled on first use and handed down"
    )
    assert finding.fix.text.endswith(
        "gather the values in a pass before that loop: found = {obj.name: obj for obj in "
        "Tag.objects.filter(name__in=keys)}, then Tag.objects.bulk_create(<the missing ones>) "
        "(update_or_create: bulk_create(objs, update_conflicts=True, unique_fields=[...], "
        "update_fields=[...]))"
    )


def test_writes_of_a_delete_signal_handler_are_the_handlers(library):
    from django.db.models.signals import post_delete

    from tests.testapp.models import Chapter

    def log_deletion(sender, instance, **kwargs):
        Tag.objects.create(name=f"deleted {instance.pk}")  # handler-write

    post_delete.connect(log_deletion, sender=Chapter)
    try:
        with djperf.capture() as rec:
            Book.objects.filter(title__startswith="B0").delete()
    finally:
        post_delete.disconnect(log_deletion, sender=Chapter)
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 4)
    assert str(finding.location) == line(HERE, "handler-write")


def test_bulk_create_of_one_object_per_row(library):
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.bulk_create([Tag(name=f"one {i}")])  # bulk-of-one
    [finding] = of(rec, "write-in-loop")
    assert (finding.model, finding.count) == ("testapp.Tag", 5)
    assert finding.fix.text == "Tag.objects.bulk_create(objs)"
    assert str(finding.location) == line(HERE, "bulk-of-one")


def test_bulk_update_of_one_object_per_row(library):
    with djperf.capture() as rec:
        for book in Book.objects.all():
            book.title += "!"
            Book.objects.bulk_update([book], ["title"])
    [finding] = of(rec, "write-in-loop")
    assert finding.count == 6
    assert finding.fix.text == "Book.objects.bulk_update(objs, ['title'])"


def test_a_test_loop_of_calls_that_write_once_each_is_the_tests(library):
    # A test calls the application's notify-like method once per item; each
    # call writes one row: the loop is the test's, no bulk form fits the model.
    from tests import as_tests

    def notify(number):
        Tag.objects.create(name=f"note {number}")  # notify-write

    with djperf.capture() as rec:
        as_tests.call_each(notify, range(5))
    [finding] = of(rec, "write-in-loop")
    assert finding.in_tests and finding.severity == "info"
    assert str(finding.location) == line("tests/as_tests.py", "the-test-loop")
    assert finding.fix is None
    assert line(HERE, "notify-write") in finding.message
    assert Tag.objects.filter(name__startswith="note ").count() == 5


def test_one_call_from_a_test_that_loops_is_the_applications(library):
    from tests import as_tests

    with djperf.capture() as rec:
        as_tests.call_once(lambda: [Tag.objects.create(name=f"t{n}") for n in range(4)])
    [finding] = of(rec, "write-in-loop")
    assert not finding.in_tests and finding.severity == "warning"
    assert finding.fix.method == "bulk_create"


# -- must flag: fixes that keep what the per-row writes did -----------------------------


def test_a_save_a_package_defines_is_the_models_not_a_call_into_the_package(library, settings):
    # As a project's Tag built on taggit's TagBase, whose save() makes the
    # slug: the loop calls the ORM, and bulk_create would skip that save().
    from tests.testapp.models import SluggedTag

    testapp = str(ROOT / "tests" / "testapp")
    settings.DJPERF = {**settings.DJPERF, "LIBRARY_PATHS": [testapp]}
    with djperf.capture() as rec:
        for name in (" Red", "Green ", "BLUE"):
            SluggedTag.objects.create(name=name)  # package-save
    assert {q.via for q in rec.queries if q.fingerprint.startswith("INSERT")} == {"tests"}
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "package-save")
    assert finding.fix.method == "bulk_create"
    assert finding.fix.text.startswith(
        "SluggedTag.objects.bulk_create(objs) would skip SluggedTag.save()"
    )


def test_no_bulk_code_for_a_model_whose_save_does_work(library):
    from tests.testapp.models import SluggedTag

    with djperf.capture() as rec:
        for name in (" Red", "Green ", "BLUE"):
            SluggedTag.objects.create(name=name)  # slugged-create
    [finding] = of(rec, "write-in-loop")
    # The loop calling the save() override, not the override's own line.
    assert str(finding.location) == line(HERE, "slugged-create")
    assert "one per row (through the save() at tests/testapp/models.py:" in finding.message
    assert finding.fix.method == "bulk_create"
    # The rows were saved as SluggedTags: its save() is the one bulk_create skips.
    assert finding.fix.text == (
        "SluggedTag.objects.bulk_create(objs) would skip SluggedTag.save(): do what they do "
        "for all the rows at once (what they compute on each row before the bulk call, what "
        "needs its key after it), or keep one write per row"
    )
    assert sorted(
        SluggedTag.objects.filter(name__in=["red", "green", "blue"]).values_list("name", flat=True)
    ) == ["blue", "green", "red"]


def test_no_bulk_code_for_a_model_hooking_save_base(library):
    from tests.testapp.models import TrackedTag

    with djperf.capture() as rec:
        for name in ("red", "green", "blue"):
            TrackedTag.objects.create(name=name)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith(
        "TrackedTag.objects.bulk_create(objs) would skip TrackedTag.save_base():"
    )


def test_no_bulk_code_when_save_signals_would_be_skipped(library):
    from django.db.models.signals import post_save

    seen = []

    def audit(sender, instance, created, **kwargs):
        seen.append(instance.name)

    post_save.connect(audit, sender=Tag)
    try:
        with djperf.capture() as rec:
            for name in ("a", "b", "c"):
                Tag.objects.create(name=name)
    finally:
        post_save.disconnect(audit, sender=Tag)
    [finding] = of(rec, "write-in-loop")
    assert seen == ["a", "b", "c"]
    assert finding.fix.text.startswith("Tag.objects.bulk_create(objs) would skip the post_save ")
    assert "SluggedTag" not in finding.fix.text  # plain Tags: not the proxy's save()
    assert "test_no_bulk_code_when_save_signals_would_be_skipped.<locals>.audit" in finding.fix.text


def test_a_packages_receiver_for_every_model_is_noted_beside_the_code(library, fakelib):
    from django.db.models.signals import post_save

    from tests.fakelib.signals import find_image_fields

    post_save.connect(find_image_fields)
    try:
        with djperf.capture() as rec:
            for name in ("a", "b", "c"):
                Tag.objects.create(name=name)
    finally:
        post_save.disconnect(find_image_fields)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == (
        "Tag.objects.bulk_create(objs)  # skips the post_save receiver "
        "tests.fakelib.signals.find_image_fields, connected for every model: "
        "check they do nothing for Tag"
    )


def test_a_packages_receiver_for_every_model_stays_named_beside_a_skipped_save(library, fakelib):
    # As oscar's Product: its own save() stops the code, and haystack's
    # realtime index receiver, connected for every model, must not vanish
    # from what the bulk form skips.
    from django.db.models.signals import post_save

    from tests.fakelib.signals import find_image_fields
    from tests.testapp.models import SluggedTag

    post_save.connect(find_image_fields)
    try:
        with djperf.capture() as rec:
            for name in ("a", "b", "c"):
                SluggedTag.objects.create(name=name)
    finally:
        post_save.disconnect(find_image_fields)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == (
        "SluggedTag.objects.bulk_create(objs) would skip SluggedTag.save(): do what they do "
        "for all the rows at once (what they compute on each row before the bulk call, what "
        "needs its key after it), or keep one write per row  # skips the post_save receiver "
        "tests.fakelib.signals.find_image_fields, connected for every model: check they do "
        "nothing for SluggedTag"
    )


def test_the_projects_receiver_for_every_model_stops_the_bulk_code(library):
    from django.db.models.signals import post_save

    def audit(sender, instance, **kwargs):
        pass

    post_save.connect(audit)
    try:
        with djperf.capture() as rec:
            for name in ("a", "b", "c"):
                Tag.objects.create(name=name)
    finally:
        post_save.disconnect(audit)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith("Tag.objects.bulk_create(objs) would skip the post_save ")


def test_the_same_row_saved_in_a_loop_is_saved_once(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        for number in range(3):
            book.title = f"draft {number}"
            book.save(update_fields=["title"])  # same-row
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "save"
    assert finding.fix.text.startswith("change book in the loop and save it once after it")


def test_a_save_right_after_create_that_changes_nothing_is_dropped(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            review = Book.objects.create(title=f"t{number}", author=author)  # created
            review.save()  # saved-again
    insert, update = sorted(of(rec, "write-in-loop"), key=lambda f: f.fix.method)
    assert insert.fix.method == "bulk_create"
    assert update.fix.method == "drop_save"
    assert str(update.location) == line(HERE, "saved-again")
    assert update.fix.text == (
        f"drop the save() at {line(HERE, 'saved-again')}: the insert at "
        f"{line(HERE, 'created')} already wrote these values"
    )
    assert "each writing again the values the insert at" in update.message


def test_a_queryset_delete_keeps_the_delete_signals(library):
    # QuerySet.delete() still sends pre_delete and post_delete per object:
    # offered as code even with a receiver.
    from django.db.models.signals import pre_delete

    def note(sender, instance, **kwargs):
        pass

    pre_delete.connect(note, sender=Tag)
    try:
        with djperf.capture() as rec:
            for tag in list(Tag.objects.all()):
                tag.delete()
    finally:
        pre_delete.disconnect(note, sender=Tag)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == "Tag.objects.filter(pk__in=ids).delete()"


def test_writes_a_receiver_makes_inside_another_models_save_are_its_own(library):
    # A post_save receiver of Book creates a Tag: the Tag inserts run inside
    # Book.save(), but bulk_create of Tags skips no Tag.save().
    from django.db.models.signals import post_save

    def tag_it(sender, instance, **kwargs):
        Tag.objects.create(name=f"about {instance.title}")  # receiver-write

    post_save.connect(tag_it, sender=Book)
    try:
        books = list(Book.objects.all()[:3])
        with djperf.capture() as rec:
            for book in books:
                book.save(update_fields=["title"])  # receiver-loop
    finally:
        post_save.disconnect(tag_it, sender=Book)
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Tag"]
    # Tag's bulk form skips no Tag.save(); but the receiver runs once per
    # Book saved, so the Tags meet only in the loop that saves the books.
    assert finding.fix.text == (
        f"no code for this line: tag_it() runs inside each write or signal at "
        f"{line(HERE, 'receiver-loop')} (a signal receiver, or a save() override), and the loop "
        f"at {line(HERE, 'receiver-loop')} in "
        "test_writes_a_receiver_makes_inside_another_models_save_are_its_own() repeats those "
        "writes. The Tag rows meet only in that loop: the per-save write must stop, and the "
        "loop collect the Tag rows of its saves and, after it, write them at once: "
        "Tag.objects.bulk_create(objs)"
    )


def _add_tag(name):
    return Tag.objects.create(name=name)  # helper-insert


def _tag_row(name):
    return _add_tag(name.strip())  # helper-between


def test_inserts_two_calls_from_their_loop_get_no_code_and_the_loop(library):
    with djperf.capture() as rec:
        for name in ("a", "b", "c"):
            _tag_row(name)  # rows-loop
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "helper-insert")
    assert finding.fix.method == "bulk_create"
    assert finding.fix.text == (
        f"no code for this line: the loop at {line(HERE, 'rows-loop')} in "
        "test_inserts_two_calls_from_their_loop_get_no_code_and_the_loop(), 2 calls out from "
        f"{line(HERE, 'helper-insert')} (through _tag_row() at {line(HERE, 'helper-between')}) "
        "repeats these writes, one call per pass. The rows of every pass meet only in that "
        "loop: have the calls between hand back the unsaved Tag objects (or their keys and "
        "values) instead of writing them (where other code calls them to write, keep a way "
        "that writes for it); after the loop, write them at once: "
        "Tag.objects.bulk_create(objs)"
    )


def test_inserts_in_a_loop_of_their_own_function_keep_the_code(library):
    def add_all(names):
        for name in names:
            Tag.objects.create(name=name)

    with djperf.capture() as rec:
        add_all(["a", "b", "c"])
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == "Tag.objects.bulk_create(objs)"


def test_writes_a_third_party_library_makes_get_a_fix_about_the_call(library, settings, tmp_path):
    source = (
        "from tests.testapp.models import Tag\n"
        "def remember(name):\n"
        "    return Tag.objects.create(name=name)\n"
    )
    with (
        third_party_package(settings, tmp_path, "thumbs", source) as thumbs,
        djperf.capture() as rec,
    ):
        for name in ("a", "b", "c"):
            thumbs.remember(name)  # library-call
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "library-call")
    assert finding.fix.method == "call_once"
    assert finding.fix.text.startswith(
        f"the inserts are thumbs's, one per call at {finding.location}: call it once"
    )
    assert {q.via for q in rec.queries if q.fingerprint.startswith("INSERT")} == {"thumbs"}


def test_a_librarys_writes_each_for_its_own_item_say_there_is_nothing_to_reuse(
    library, settings, tmp_path
):
    # oscar's thumbnails: sorl fills its cache once per image, and deletes
    # each deleted image's thumbnails once: no call repeats another's work.
    source = (
        "from tests.testapp.models import Tag\n"
        "def remember(name):\n"
        "    return Tag.objects.create(name=name)\n"
    )
    with third_party_package(settings, tmp_path, "thumbs", source) as thumbs:
        with djperf.capture() as rec:
            for name in ("a", "b", "c"):
                thumbs.remember(name)
        [finding] = of(rec, "write-in-loop")
        assert "each call here wrote rows no other call wrote" in finding.fix.text
        with djperf.capture() as again:
            for _ in range(3):
                thumbs.remember("same")
    # The same values written by every call: what one returned can be kept.
    [repeated] = of(again, "write-in-loop")
    assert repeated.fix.text.endswith(
        "call it once for all the items, or keep and reuse what it returns"
    )


def test_a_librarys_related_manager_writing_one_objects_rows_per_call(library, settings, tmp_path):
    # django-taggit's instance.tags.add(...): one object's rows per call, so
    # "call it once for all the items" cannot be done; the rows of all the
    # objects go through the table together.
    from types import SimpleNamespace

    source = (
        "class Manager:\n"
        "    def __init__(self, book):\n"
        "        self.book = book\n"
        "    def add(self, *tags):\n"
        "        through = type(self.book).tags.through\n"
        "        for tag in tags:\n"
        "            through.objects.get_or_create(book=self.book, tag=tag)\n"
    )
    with third_party_package(settings, tmp_path, "taggy", source) as taggy:
        tag = Tag.objects.create(name="new")
        with djperf.capture() as rec:
            for book in Book.objects.all():
                holder = SimpleNamespace(tags=taggy.Manager(book))
                holder.tags.add(tag)  # library-manager
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == (
        "Book.tags.through.objects.bulk_create([Book.tags.through(...), ...])  # taggy's "
        f"tags.add() at {line(HERE, 'library-manager')} writes one object's rows "
        "per call: write those of all the objects together"
    )


def test_a_helper_called_in_a_loop(library):
    # The helper's write, called from one line of a loop: one write per row.
    books = list(Book.objects.order_by("pk")[:3])
    with djperf.capture() as rec:
        for number, book in enumerate(books):
            _retitle(book, f"title {number}")  # helper-loop
    [finding] = of(rec, "write-in-loop")
    assert finding.count == 3


# -- must not flag -----------------------------------------------------------------


def test_not_dropping_a_save_after_create_that_changes_a_field(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            book = Book.objects.create(title=f"t{number}", author=author)
            book.title = f"{book.title} #{book.pk}"  # needs the pk: a second write
            book.save()
    [update] = [f for f in of(rec, "write-in-loop") if f.fix.method != "bulk_create"]
    assert update.fix.method == "bulk_update"


def test_not_dropping_a_save_of_another_row_after_create(library):
    author = Author.objects.first()
    books = list(Book.objects.all()[:4])
    assert len(books) == 4
    with djperf.capture() as rec:
        for number, book in enumerate(books):
            Book.objects.create(title=f"t{number}", author=author)
            book.save()
    [update] = [f for f in of(rec, "write-in-loop") if f.fix.method != "bulk_create"]
    assert update.fix.method == "bulk_update"


def test_not_a_get_or_create_per_distinct_line(library):
    with djperf.capture() as rec:
        Tag.objects.get_or_create(name="one")
        Tag.objects.get_or_create(name="two")
        Tag.objects.update_or_create(name="three", defaults={"name": "three"})
    assert rec.findings == []


def test_not_below_the_threshold(library):
    with djperf.capture() as rec:
        Tag.objects.create(name="one")
        for i in range(2):
            Tag.objects.create(name=f"two {i}")
    assert of(rec, "write-in-loop") == []


def test_not_bulk_create_of_one_object_twice(library):
    with djperf.capture() as rec:
        for i in range(2):
            Tag.objects.bulk_create(objs=[Tag(name=f"one {i}")])
    assert rec.findings == []


def test_not_bulk_create_of_several_objects_per_call(library):
    # Batches, if small ones (a generator's size is unknown: a batch too).
    with djperf.capture() as rec:
        for i in range(5):
            Tag.objects.bulk_create([Tag(name=f"g {i}{j}") for j in range(3)])
            Tag.objects.bulk_create(Tag(name=f"h {i}{j}") for j in range(1))
    assert rec.findings == []


def test_not_bulk_create(library):
    with djperf.capture() as rec:
        Tag.objects.bulk_create([Tag(name=f"bulk {i}") for i in range(50)], batch_size=5)
    assert rec.findings == []


def test_not_bulk_update(library):
    books = list(Book.objects.all())
    for book in books:
        book.title += "!"
    with djperf.capture() as rec:
        Book.objects.bulk_update(books, ["title"], batch_size=1)
    assert rec.findings == []


def test_not_one_delete_with_many_cascades(library):
    with djperf.capture() as rec:
        Author.objects.all().delete()
    assert rec.findings == []


def test_not_one_queryset_update(library):
    with djperf.capture() as rec:
        Book.objects.update(summary="")
    assert rec.findings == []


def test_not_writes_to_different_tables(library):
    with djperf.capture() as rec:
        Tag.objects.create(name="a")
        Publisher.objects.create(name="b")
        Author.objects.create(name="c")
    assert rec.findings == []


def test_not_one_set_of_many_rows(library):
    book = Book.objects.first()
    with djperf.capture() as rec:
        book.tags.set(list(Tag.objects.all()))
    assert of(rec, "write-in-loop") == []


def test_not_a_set_that_changes_nothing(library, caplog):
    import logging

    with caplog.at_level(logging.ERROR, logger="djperf"), djperf.capture() as rec:
        for book in Book.objects.prefetch_related("tags"):
            book.tags.set(list(book.tags.all()))
    assert of(rec, "write-in-loop") == []
    assert "internal error" not in caplog.text


def test_not_one_row_per_model_from_one_line(library):
    # One line in a loop, but each pass writes another table: nothing to batch.
    with djperf.capture() as rec:
        for model in (Tag, Publisher, Author):
            model.objects.create(name="seed")
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "INSERT")) == 3
    assert [m.objects.filter(name="seed").count() for m in (Tag, Publisher, Author)] == [1, 1, 1]


def test_not_a_save_per_object_at_different_lines(library):
    # Three UPDATEs of one table, each from a line of its own: no loop.
    first, second, third = Book.objects.order_by("pk")[:3]
    with djperf.capture() as rec:
        first.title = "first"
        first.save(update_fields=["title"])
        second.summary = "second"
        second.save(update_fields=["summary"])
        third.publisher = None
        third.save(update_fields=["publisher"])
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 3
    assert Book.objects.filter(title="first").count() == 1
    assert Book.objects.filter(summary="second").count() == 1
    assert Book.objects.filter(publisher=None).count() == 1


def test_not_a_locked_row_saved_once(library):
    with djperf.capture() as rec, transaction.atomic():
        book = Book.objects.select_for_update().get(title="B00")
        book.summary = "locked"
        book.save(update_fields=["summary"])
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 1
    assert Book.objects.get(title="B00").summary == "locked"


def test_not_bulk_update_in_chunks_of_several(library):
    # A loop, but each call writes several rows: batches, if small ones.
    books = list(Book.objects.order_by("pk"))
    for book in books:
        book.summary = "chunked"
    with djperf.capture() as rec:
        for start in range(0, len(books), 2):
            Book.objects.bulk_update(books[start : start + 2], ["summary"])
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 3
    assert Book.objects.filter(summary="chunked").count() == 6


def test_not_one_update_with_a_value_per_row(library):
    # What a save() per row with its own value becomes: one UPDATE ... CASE.
    from django.db.models import Case, Value, When

    books = list(Book.objects.order_by("pk"))
    with djperf.capture() as rec:
        Book.objects.filter(pk__in=[book.pk for book in books]).update(
            summary=Case(
                *(When(pk=book.pk, then=Value(f"row {i}")) for i, book in enumerate(books))
            )
        )
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 1
    summaries = sorted(Book.objects.values_list("summary", flat=True))
    assert summaries == [f"row {i}" for i in range(6)]


def test_not_a_loop_that_writes_only_the_row_it_changes(library):
    with djperf.capture() as rec:
        for book in Book.objects.order_by("pk"):
            if book.title == "B11":
                book.summary = "fixed"
                book.save(update_fields=["summary"])
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 1
    assert Book.objects.get(title="B11").summary == "fixed"


def test_not_creating_only_the_missing_rows_in_one_bulk_create(library):
    # What a get_or_create() per name becomes: one read, one INSERT.
    names = ["t0", "t1", "new a", "new b", "new c"]
    with djperf.capture() as rec:
        existing = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
        Tag.objects.bulk_create([Tag(name=name) for name in names if name not in existing])
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "INSERT")) == 1
    assert Tag.objects.filter(name__in=names).count() == 5


def _retitle(book, title):
    book.title = title
    book.save(update_fields=["title"])


def test_not_a_helper_called_from_different_lines(library):
    # Three call sites, one save each: the helper's line sends three UPDATEs,
    # but no loop runs it.
    first, second, third = Book.objects.order_by("pk")[:3]
    with djperf.capture() as rec:
        _retitle(first, "one")
        _retitle(second, "two")
        _retitle(third, "three")
    assert of(rec, "write-in-loop") == []
    assert len(_sent(rec, "UPDATE")) == 3
    assert Book.objects.filter(title__in=["one", "two", "three"]).count() == 3


def test_not_one_write_per_post_over_several_requests(library, client, settings):
    settings.ROOT_URLCONF = "tests.testapp.urls"
    with djperf.capture() as rec:
        for name in ("red", "green", "blue"):
            assert client.post("/tags/", {"name": name}).status_code == 302
    assert len([q for q in rec.queries if q.fingerprint.startswith("INSERT")]) == 3
    assert of(rec, "write-in-loop") == []


def test_an_update_from_the_stored_value_keeps_it_atomic(library):
    # As a stock allocation: UPDATE ... SET rating = rating + 1 per row. A
    # bulk_update would write values computed in Python.
    from django.db.models import F

    reviews = list(Review.objects.all()[:4])
    with djperf.capture() as rec:
        for review in reviews:
            Review.objects.filter(pk=review.pk).update(rating=F("rating") + 1)  # f-update
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "update"
    assert finding.fix.text == (
        "Review.objects.filter(id__in=ids).update(rating=Case(When(id=..., then=<that row's "
        "expression of F('rating')>), ..., default=F('rating')))  # each UPDATE computes the "
        "new value from the stored one: one UPDATE keeps that (bulk_update would write values "
        "computed in Python and lose changes made between)"
    )


def test_a_per_row_queryset_update_names_no_receiver_it_never_ran(library):
    from django.db.models.signals import post_save

    post_save.connect(_noop_review_receiver, sender=Review)
    reviews = list(Review.objects.all()[:4])
    try:
        with djperf.capture() as rec:
            for review in reviews:
                Review.objects.filter(pk=review.pk).update(rating=5)
    finally:
        post_save.disconnect(_noop_review_receiver, sender=Review)
    [finding] = of(rec, "write-in-loop")
    # update() sends no post_save: bulk_update skips nothing these ran.
    assert finding.fix.text == "Review.objects.bulk_update(objs, ['rating'])"


def test_a_loop_calling_its_helper_from_two_lines_is_one_loop(library):
    # As babybuddy's fake command: one while loop whose body calls the same
    # helper from two lines, half the rows each. The loop is named by its
    # own first line, never lost for having no line with most of the rows.
    with djperf.capture() as rec:
        for number, name in enumerate("abcd"):  # two-lines-loop
            if number % 2:
                _tag_row(name)
            else:
                _tag_row(name.upper())
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'two-lines-loop')} in "
        "test_a_loop_calling_its_helper_from_two_lines_is_one_loop(), 2 calls out from "
    )


def _add_slugged(name):
    tag = SluggedTag.objects.create(name=name)  # helper-slugged-create
    _remember(tag)
    return tag


def _remember(tag):
    return tag.pk


def _slugged_row(name):
    return _add_slugged(name)  # slugged-between


def test_a_save_override_two_calls_from_its_loop_is_counted_from_its_caller(library):
    with djperf.capture() as rec:
        tags = []
        for name in ("a", "b", "c"):
            tags.append(_slugged_row(name))  # slugged-loop
    assert len(tags) == 3
    [finding] = [f for f in of(rec, "write-in-loop") if f.count == 3]
    assert str(finding.location) == line(HERE, "helper-slugged-create")
    # Two calls out from the create() line, not from SluggedTag.save()'s;
    # what the helper does next with each row, and the save() a bulk form
    # would skip, are still said.
    text = finding.fix.text
    assert text.startswith(
        f"no code for this line: the loop at {line(HERE, 'slugged-loop')} in "
        "test_a_save_override_two_calls_from_its_loop_is_counted_from_its_caller(), 2 calls out "
        "from "
        f"{line(HERE, 'helper-slugged-create')} (through _slugged_row() at "
        f"{line(HERE, 'slugged-between')}) repeats these writes"
    )
    assert "; it would skip SluggedTag.save()" in text
    assert text.endswith("do what _add_slugged() did with each one: _remember(tag)")


def _add_entry(name):
    return SluggedTag.objects.create(name=name)  # entry-create


def test_the_loop_named_is_the_one_most_writes_came_through(library):
    # As babybuddy's fake command: one entry for each child before its loop,
    # then one per pass of a while loop. The while loop repeats the writes.
    with djperf.capture() as rec:
        for child in ["one"]:
            _add_entry(child)
            count = 0
            while count < 4:  # busy-loop
                _add_entry(f"{child}-{count}")  # busy-call
                count += 1
    [finding] = [f for f in of(rec, "write-in-loop") if f.count == 5]
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'busy-call')} in "
        "test_the_loop_named_is_the_one_most_writes_came_through() repeats these writes"
    )


def _file_under(book, tag):
    Tag.objects.update_or_create(name=f"{book}-{tag}")  # result-dropped


def test_an_update_or_create_a_few_calls_out_keeps_no_dictionary(library):
    # Its result is dropped and it writes each time: no dictionary helps.
    with djperf.capture() as rec:
        for book in ("a", "b", "c", "d"):
            _file_under(book, "x")
    [finding] = of(rec, "write-in-loop")
    assert "Keep a dictionary" not in finding.fix.text
    assert finding.fix.text.startswith("no code for this line: the loop at ")


def _rate(book, ratings):
    for rating in ratings:
        Review.objects.create(book=book, rating=rating)  # rating-each


def _add_book(author, number, ratings):
    book = Book.objects.create(title=f"new {number}", author=author)
    _rate(book, ratings)  # rate-the-book


def test_a_helpers_loop_run_once_per_call_is_not_the_loop(library):
    # As oscar's create_line_discount_models(): its own loop over a line's
    # discounts writes one per call; place_order's loop over the lines
    # repeats the calls (a Line written between them says they are separate).
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            _add_book(author, number, [1])  # adding-books
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Review"]
    assert finding.fix.text == (
        f"no code for this line: the loop at {line(HERE, 'adding-books')} in "
        "test_a_helpers_loop_run_once_per_call_is_not_the_loop(), 2 calls out from "
        f"{line(HERE, 'rating-each')} (through _add_book() at {line(HERE, 'rate-the-book')}) "
        "repeats these writes, one call per pass. The rows of every pass meet only in that "
        "loop: have the calls between hand back the unsaved Review objects (or their keys and "
        "values) instead of writing them (where other code calls them to write, keep a way "
        "that writes for it); after the loop, write them at once: "
        "Review.objects.bulk_create(objs)"
    )


def test_a_helpers_loop_run_many_times_in_one_call_is_the_loop(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        _add_book(author, 9, [1, 2, 3, 4, 5])
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == "Review.objects.bulk_create(objs)"


def _chain(author, titles):
    if len(titles) == 1:
        return [Book.objects.create(title=titles[0], author=author)]
    books = _chain(author, titles[:-1])  # recursing
    books.append(Book.objects.create(title=titles[-1], author=author))  # level-write
    return books


def test_writes_one_per_level_of_a_recursion_keep_one_write_per_level(library):
    # As oscar's create_from_sequence(): each category of a breadcrumb is
    # added under the one the call before made.
    author = Author.objects.first()
    with djperf.capture() as rec:
        _chain(author, [f"level {n}" for n in range(6)])
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "level-write")
    assert finding.fix.text == (
        "no code for this line: the inserts come one per call of _chain(), which calls "
        f"itself at {line(HERE, 'recursing')} (a recursion, one level per call), and each "
        "level's Book row is made under the one the level above wrote (a child needs its "
        "parent's key, and a tree's node its parent's path). Keep one write per level; where "
        "many chains are made (an import), make the levels of all of them first and write "
        "each level at once with the model's own bulk method"
    )


def _walk(author, depth):
    for number in range(2):
        Book.objects.create(title=f"node {depth} {number}", author=author)  # node-write
        if depth:
            _walk(author, depth - 1)  # walking


def test_writes_of_a_recursion_that_loops_keep_the_bulk_form(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        _walk(author, 2)
    findings = of(rec, "write-in-loop")
    assert findings
    assert all("recursion" not in f.fix.text for f in findings)


def _import_title(title, author):
    try:
        book = Book.objects.get(title=title)
    except Book.DoesNotExist:
        book = Book()
    book.title = title
    book.author = author
    book.save()  # found-or-new
    Review.objects.create(book=book, rating=1)


def test_an_importers_save_of_found_or_new_objects_splits_the_bulk_form(library):
    # As oscar's catalogue importer: a row updates the product it finds by
    # UPC, or inserts a new one; bulk_create takes only the new ones.
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            _import_title(f"imported {number}", author)  # importing
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Book"]
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'importing')} in "
    )
    assert (
        "do what _import_title() did with each one: Review.objects.create(book=book, rating=1)"
        in finding.fix.text
    )
    assert finding.fix.text.endswith(
        "; the code finds some Book objects (Book.objects.get(title=title): an update when "
        "saved) and makes the others new: bulk_create takes only the new ones; write the "
        "found ones with Book.objects.bulk_update(found, [<the fields set>]), after looking "
        "them up at once (Book.objects.filter(title__in=<the values>) into a dictionary by "
        "title: title is not unique, so a value can have several rows (the get() fails on "
        "those now): decide which one the dictionary keeps); a value repeated in the rows is "
        "one object: the later row changes the one the earlier made or found"
    )


def _import_sku(partner, sku):
    try:
        stock = Stock.objects.get(sku=sku)
    except Stock.DoesNotExist:
        stock = Stock()
    stock.partner = partner
    stock.sku = sku
    stock.code = f"code {sku}"
    stock.save()  # sku-found-or-new


def _new_book(title, author):
    book = Book(title=title, author=author)
    book.save()  # new-book
    return book


def _first_review(book):
    Review.objects.create(book=book, rating=2)  # first-review


def _import_book_row(title, author):
    book = _new_book(title, author)  # book-row
    _first_review(book)


def test_rows_another_call_of_the_pass_points_at_the_new_ones_wait_for_the_bulk_create(library):
    # As oscar's importer: _create_item() saves the product, and the row's
    # next call, _create_stockrecord(), writes a stock record pointing to it.
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            _import_book_row(f"row {number}", author)  # book-rows
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Book"]
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'book-rows')} in "
    )
    assert finding.fix.text.endswith(
        "; each pass also writes rows that point to its Book (the Review rows written at "
        f"{line(HERE, 'first-review')}): they need the keys the bulk_create sets, so they "
        "wait for it and are written after it, together"
    )
    assert Review.objects.filter(book__title__startswith="row ").count() == 4


def _book_then_review(title, author):
    book = Book(title=title, author=author)
    book.save()  # book-then-review
    _first_review(book)


def test_rows_a_named_next_call_writes_are_not_named_again(library):
    # oscar's place_order(): what create_line_models() does next with each
    # line (create_line_price_models(...)) is named already.
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            _book_then_review(f"then {number}", author)
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Book"]
    assert "do what _book_then_review() did with each one: _first_review(book)" in (
        finding.fix.text
    )
    assert "point to" not in finding.fix.text


def test_rows_test_code_writes_pointing_at_the_new_ones_are_not_the_passs(library):
    from tests import as_tests

    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            as_tests.review(_new_book(f"tested {number}", author))
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Book"]
    assert "point to" not in finding.fix.text


def test_rows_of_other_tables_not_pointing_at_the_new_ones_are_not_named(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(4):
            book = _new_book(f"alone {number}", author)  # alone-row
            Tag.objects.create(name=f"tag {book.title}")
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Book"]
    assert "point to" not in finding.fix.text
    assert "Tag" not in finding.fix.text


def test_a_found_or_new_lookup_by_a_field_unique_only_with_others_keeps_the_codes_key(library):
    # As oscar's stock importer: StockRecord.objects.get(partner_sku=...),
    # partner_sku unique only with partner: in_bulk cannot look it up.
    partner = Publisher.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            _import_sku(partner, f"sku {number}")
    [finding] = of(rec, "write-in-loop")
    assert (
        "after looking them up at once (Stock.objects.filter(sku__in=<the values>) into a "
        "dictionary by sku, as the get() looks up: sku is unique only with partner, so a "
        "value can have rows of several, on which the get() raises MultipleObjectsReturned "
        "now: keep a list per value and do that where a list holds more than one (keying by "
        "partner too would miss the rows the code finds now)); a value repeated in the rows "
        "is one object"
    ) in finding.fix.text
    # What save() did in the fields' pre_save(), which bulk_update skips.
    assert finding.fix.text.endswith(
        "; bulk_update does not set auto_now fields: set updated to timezone.now() on each "
        "object and name it in the fields; bulk_update does not store a new file of sheet "
        "(a FileField stores it in save()): keep save() for the rows with a new file"
    )


def _import_code(partner, code):
    try:
        stock = Stock.objects.get(code=code)
    except Stock.DoesNotExist:
        stock = Stock()
    stock.partner = partner
    stock.sku = code
    stock.code = code
    stock.save()  # code-found-or-new


def test_a_found_or_new_lookup_by_a_unique_field_is_in_bulk_by_it(library):
    partner = Publisher.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            _import_code(partner, f"code {number}")
    [finding] = of(rec, "write-in-loop")
    assert (
        "after looking them up at once (Stock.objects.in_bulk(<the values>, "
        "field_name='code')); a value repeated"
    ) in finding.fix.text


def test_saves_of_a_model_with_an_auto_now_date_and_a_file_say_what_bulk_update_skips(
    library,
):
    partner = Publisher.objects.first()
    Stock.objects.bulk_create(Stock(partner=partner, sku=f"s{n}", code=f"c{n}") for n in range(5))
    with djperf.capture() as rec:
        for stock in Stock.objects.all():
            stock.count += 1
            stock.save()  # stock-save
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.method == "bulk_update"
    assert finding.fix.text.startswith("Stock.objects.bulk_update(objs, [")
    assert finding.fix.text.endswith(
        "  # bulk_update does not set auto_now fields: set updated to timezone.now() on "
        "each object and name it in the fields; bulk_update does not store a new file of "
        "sheet (a FileField stores it in save()): keep save() for the rows with a new file"
    )


def test_a_save_of_objects_always_made_new_is_not_split(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            book = Book(title=f"made {number}", author=author)
            book.save()
    [finding] = of(rec, "write-in-loop")
    assert "bulk_update" not in finding.fix.text
    assert finding.fix.method == "bulk_create"


def _bump(book_id, amount):
    from django.db.models import F

    rows = Review.objects.filter(book_id=book_id, rating__gte=100)
    changed = rows.update(rating=F("rating") + amount)  # bump
    if not changed:
        Review.objects.create(book_id=book_id, rating=100 + amount)  # first-bump


def test_a_counter_bumped_or_created_by_hand_keeps_both_halves(library):
    # As oscar's analytics _update_counter(): update(F + n), create() when
    # it changed no row; a bulk form of either half alone loses the other.
    books = list(Book.objects.values_list("pk", flat=True))
    with djperf.capture() as rec:
        for book_id in books * 2:
            _bump(book_id, 1)  # bumping
    texts = [f.fix.text for f in of(rec, "write-in-loop")]
    assert len(texts) == 2
    for text in texts:
        assert text.startswith(
            f"no code for this line: the update() at {line(HERE, 'bump')} and the create() at "
            f"{line(HERE, 'first-bump')}, run when it changed no row"
        )
        assert f"(the loop at {line(HERE, 'bumping')} in " in text
        assert "add up the increments of the same key" in text


def _allocate(review_id, amount):
    from django.db.models import F

    Review.objects.filter(pk=review_id).update(rating=F("rating") + amount)  # allocate


def _update_stock(review):
    _allocate(review.pk, 1)  # update-stock


def test_an_atomic_update_two_calls_out_names_the_loop_and_what_to_hand_back(library):
    # As oscar's place_order(): update_stock_records(line) per line calls
    # stockrecord.allocate(qty), one F() increment each.
    reviews = list(Review.objects.all()[:4])
    with djperf.capture() as rec:
        for review in reviews:
            _update_stock(review)  # per-line
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith(
        f"no code for this line: the loop at {line(HERE, 'per-line')} in "
        "test_an_atomic_update_two_calls_out_names_the_loop_and_what_to_hand_back(), 2 calls "
        f"out from {line(HERE, 'allocate')} (through _update_stock() at "
        f"{line(HERE, 'update-stock')}) repeats these writes, one call per pass. The rows of "
        "every pass meet only in that loop: have the calls between hand back the keys and the "
        "amounts to add for the Review rows instead of writing them (where other code calls "
        "them to write, keep a way that writes for it); after the loop, write "
        "them at once: Review.objects.filter(id__in=ids).update(rating=Case(When(id=..., "
    )
    assert finding.fix.text.endswith(
        "  # each UPDATE computes the new value from the stored one: one UPDATE keeps that "
        "(bulk_update would write values computed in Python and lose changes made between); "
        "amounts for the same row add up, and what the calls did with each row after its "
        "write moves after this one"
    )


def _notify(book, text):
    Review.objects.create(book=book, rating=len(text))  # notify-one


def test_a_helper_called_per_pass_may_have_other_callers(library):
    books = list(Book.objects.all())
    with djperf.capture() as rec:
        for book in books:
            _notify(book, "new")  # notify-all
    [finding] = of(rec, "write-in-loop")
    assert (
        "have _notify() hand back the unsaved Review objects (or their keys and values) "
        "instead of writing them (where other code calls _notify() to write one, keep it for "
        "them and make the objects in the loop as it does); after the loop, write them at "
        "once: Review.objects.bulk_create(objs)"
    ) in finding.fix.text


def _tag_chain(names):
    if len(names) == 1:
        return [SluggedTag.objects.create(name=names[0])]
    tags = _tag_chain(names[:-1])  # tag-recursing
    tags.append(SluggedTag.objects.create(name=names[-1]))  # tag-level
    return tags


def test_writes_of_a_recursion_through_a_save_override_keep_one_write_per_level(library):
    # oscar's breadcrumbs: each Category.save() (an override) runs under the
    # recursion's add_child() line; the finding shows that line.
    with djperf.capture() as rec:
        _tag_chain([f"level {n}" for n in range(5)])
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "tag-level")
    assert finding.fix.text.startswith(
        "no code for this line: the inserts come one per call of _tag_chain(), which calls "
        f"itself at {line(HERE, 'tag-recursing')} (a recursion, one level per call)"
    )


def test_the_work_after_each_new_row_survives_the_losses_of_the_bulk_form(library):
    with djperf.capture() as rec:
        for n in range(5):
            tag = SluggedTag.objects.create(name=f"Tag {n}")  # slugged-create
            tag.books.add(*Book.objects.filter(title="B00"))
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Tag"]
    assert finding.fix.text.startswith(
        "SluggedTag.objects.bulk_create(objs) would skip SluggedTag.save()"
    )
    assert finding.fix.text.endswith(
        'do what the loop did with each one: tag.books.add(*Book.objects.filter(title="B00"))'
    )


def _add_tagged_slug(number):
    tag = SluggedTag.objects.create(name=f"Tag {number}")
    tag.books.add(*Book.objects.filter(title="B00"))


def test_a_helper_with_losses_names_its_work_after_each_row_once(library):
    # babybuddy's fake command: a helper per entry creates it (a model whose
    # save() does work) and tags it; the loop calling it is one call out.
    with djperf.capture() as rec:
        for number in range(5):
            _add_tagged_slug(number)
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Tag"]
    text = finding.fix.text
    assert text.startswith("no code for this line: the loop at ")
    assert "do what the loop did" not in text
    assert text.count("do what _add_tagged_slug() did with each one") == 1
    assert "it would skip SluggedTag.save()" in text


def test_a_bulk_create_of_a_model_with_unique_values_says_the_batch_must_not_repeat_them(
    library,
):
    # As oscar's voucher set: each code drawn free against the table, one
    # save each; in one batch two drawn codes may be the same.
    partner = Publisher.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            Stock.objects.create(partner=partner, sku=f"s{number}", code=f"c{number}")
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text.startswith("Stock.objects.bulk_create(objs)")
    assert (
        "rows of the batch that repeat a unique value (code; partner with sku) fail the whole "
        "bulk_create, where each save() failed alone: make them differ (or merge them) before it"
    ) in finding.fix.text


def test_a_bulk_create_of_a_model_without_unique_values_says_nothing_of_them(library):
    author = Author.objects.first()
    with djperf.capture() as rec:
        for number in range(5):
            Book.objects.create(title=f"plain {number}", author=author)
    [finding] = of(rec, "write-in-loop")
    assert finding.fix.text == "Book.objects.bulk_create(objs)"


def test_a_queryset_update_in_a_save_override_says_the_save_must_stop_running_it(library):
    # As oscar's User.save(), which moves the anonymous alerts of its e-mail
    # to the user: a dashboard's loop saving users runs it once per user.
    Member.objects.bulk_create(Member(email=f"m{n}@example.com") for n in range(5))
    with djperf.capture() as rec:
        for member in Member.objects.all():
            member.active = False
            member.save()  # saving-members
    [finding] = [f for f in of(rec, "write-in-loop") if f.model == "testapp.Publisher"]
    assert finding.fix.text.startswith(
        "no code for this line: save() runs inside each write or signal at "
        f"{line(HERE, 'saving-members')} (a signal receiver, or a save() override), once per "
        "write, and sends this update of Publisher rows each time."
    )
    assert finding.fix.text.endswith(
        "that code would stop the per-save update while it runs and make one update() for "
        "all the objects it saved"
    )


def _renumber(formset):
    formset.save()  # formset-save


def test_a_model_formsets_save_gets_the_commit_false_way_not_bulk_code(library):
    # As oscar's product images reordered in the dashboard: the formset's
    # save() writes each changed form's object in Django's own loop.
    from django.forms import modelformset_factory

    books = list(Book.objects.order_by("pk")[:3])
    Books = modelformset_factory(Book, fields=["title"], extra=0)
    data = {"form-TOTAL_FORMS": "3", "form-INITIAL_FORMS": "3"}
    for number, book in enumerate(books):
        data[f"form-{number}-id"] = str(book.pk)
        data[f"form-{number}-title"] = f"renamed {number}"
    formset = Books(data, queryset=Book.objects.filter(pk__in=[b.pk for b in books]))
    assert formset.is_valid()
    with djperf.capture() as rec:
        _renumber(formset)
    [finding] = of(rec, "write-in-loop")
    assert str(finding.location) == line(HERE, "formset-save")
    assert finding.fix.method == "formset_save"
    assert finding.fix.text == (
        "no code for this line: formset.save() saves the Book of each changed form in a loop "
        "of Django's (BaseModelFormSet.save()), one write per form. To write them together: "
        "objs = formset.save(commit=False) (which writes nothing), then "
        "Book.objects.bulk_update([obj for obj, fields in formset.changed_objects], [<the "
        "fields those forms change>]), Book.objects.bulk_create(formset.new_objects), delete "
        "each of formset.deleted_objects (commit=False leaves them), and formset.save_m2m(); "
        "where the view saves several formsets, only this one changes"
    )
    assert sorted(
        Book.objects.filter(title__startswith="renamed ").values_list("title", flat=True)
    ) == ["renamed 0", "renamed 1", "renamed 2"]


def test_a_save_at_a_line_not_calling_a_formset_keeps_the_bulk_code(library):
    books = list(Book.objects.order_by("pk")[:3])
    with djperf.capture() as rec:
        for book in books:
            book.title = book.title + "!"
            book.save()
    [finding] = of(rec, "write-in-loop")
    assert "formset" not in finding.fix.text
    assert finding.fix.method == "bulk_update"
