"""Models for djperf's own tests: one of every relation kind Django has.

Names follow the examples in the issues (Review -> book -> publisher,
``books``, ``chapter_set``) so a failing test reads like the docs.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class PublisherQuerySet(models.QuerySet["Publisher"]):
    def prefetch_counted_stocks(self) -> PublisherQuerySet:
        """The project's own prefetch into an attribute its code reads (as
        oscar's prefetch_attribute_values()): a fix must name it."""
        return self.prefetch_related(
            models.Prefetch(
                "stocks",
                queryset=Stock.objects.filter(count__gt=0),
                to_attr="_prefetched_counted_stocks",
            )
        )

    def prefetch_titled_books(
        self, queryset: models.QuerySet[Book] | None = None
    ) -> PublisherQuerySet:
        """One that takes the queryset of the rows it prefetches (as oscar's
        prefetch_public_children(queryset=None))."""
        if queryset is None:
            queryset = Book.objects.filter(title__startswith="B")
        return self.prefetch_related(
            models.Prefetch("book_set", queryset=queryset, to_attr="_prefetched_titled_books")
        )


class Publisher(models.Model):
    name = models.CharField(max_length=100)

    objects = PublisherQuerySet.as_manager()

    def __str__(self) -> str:
        return self.name

    @property
    def has_book(self) -> bool:
        """A property an annotation must not shadow (as oscar's
        Product.has_stockrecords)."""
        return self.book_set.exists()


class Author(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Bio(models.Model):
    # Reverse one-to-one: author.bio
    author = models.OneToOneField(Author, models.CASCADE, related_name="bio")
    text = models.TextField(default="")

    def __str__(self) -> str:
        return f"bio of {self.author_id}"


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    # A generic foreign key: note.content_object
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    text = models.CharField(max_length=100, default="")

    def __str__(self) -> str:
        return self.text


class BookQuerySet(models.QuerySet["Book"]):
    def prefetch_ordered_chapters(self) -> BookQuerySet:
        """The project's own prefetch of chapter_set, into an attribute."""
        return self.prefetch_related(
            models.Prefetch(
                "chapter_set",
                queryset=Chapter.objects.order_by("title"),
                to_attr="_prefetched_ordered_chapters",
            )
        )


class Book(models.Model):
    title = models.CharField(max_length=100)
    # Forward FK with a related_name: author.books
    author = models.ForeignKey(Author, models.CASCADE, related_name="books")
    # Forward FK without one: publisher.book_set
    publisher = models.ForeignKey(Publisher, models.SET_NULL, null=True, blank=True)
    # Many-to-many: book.tags, tag.books
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    # A big column to defer.
    summary = models.TextField(default="")
    notes = GenericRelation(Note)

    objects = BookQuerySet.as_manager()

    def __str__(self) -> str:
        return self.title

    @property
    def ratings(self) -> list[int]:
        # Its own reviews read by hand (as djangoproject.com's
        # SecurityIssue.hashes_by_branch): one query per book.
        reviews = list(  # by-hand
            Review.objects.select_related(
                "book",
            ).filter(book_id=self.id)
        )
        return [review.rating for review in reviews]


class Chapter(models.Model):
    # No related_name: book.chapter_set
    book = models.ForeignKey(Book, models.CASCADE)
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class Review(models.Model):
    book = models.ForeignKey(Book, models.CASCADE, related_name="reviews")
    rating = models.IntegerField(default=3)

    def __str__(self) -> str:
        return f"review of {self.book_id}"


class Portrait(models.Model):
    # Reverse one-to-one whose query name differs from its accessor:
    # author.portrait, but select_related("painted") / filter(painted__...).
    author = models.OneToOneField(
        Author, models.CASCADE, related_name="portrait", related_query_name="painted"
    )
    caption = models.CharField(max_length=100, default="")

    def __str__(self) -> str:
        return self.caption


class GuardedBook(Book):
    """A proxy whose __setattr__ refuses private names, as some dirty-tracking
    mixins do: djperf must never set an attribute on the user's instance."""

    class Meta:
        proxy = True

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_") and name not in ("_state", "_prefetched_objects_cache"):
            raise AttributeError(f"{name} is not a field")
        super().__setattr__(name, value)


class DynamicBook(Book):
    """A proxy with a __getattr__ that raises KeyError for unknown names, as
    some attribute-bag models do: djperf must never trigger it."""

    class Meta:
        proxy = True

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        extras: dict[str, object] = self.__dict__.setdefault("extras", {})
        return extras[name]


class SluggedTag(Tag):
    """A proxy whose save() does work of its own (as many models do): a bulk
    write would skip it, so write-in-loop must not offer bulk code for it."""

    class Meta:
        proxy = True

    def save(self, *args: object, **kwargs: object) -> None:
        self.name = self.name.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class TrackedTag(Tag):
    """A proxy that hooks its saves in save_base(), as field trackers do."""

    class Meta:
        proxy = True

    def save_base(self, *args: object, **kwargs: object) -> None:
        self.name = self.name.upper()
        super().save_base(*args, **kwargs)  # type: ignore[arg-type]


class Edition(Book):
    # Multi-table inheritance: edition.book_ptr is a parent link.
    year = models.IntegerField(default=2000)


class Label(models.Model):
    """Read through Labelling as django-taggit reads tags through its
    TaggedItem: the parent's relation has a through model of its own."""

    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Album(models.Model):
    name = models.CharField(max_length=50)
    labels = models.ManyToManyField(Label, through="Labelling", related_name="albums")

    def __str__(self) -> str:
        return self.name

    def label_names(self) -> list[str]:
        # As taggit's manager does: a query of its own, no related manager.
        return [label.name for label in Label.objects.filter(labelling__album_id=self.pk)]


class Labelling(models.Model):
    label = models.ForeignKey(Label, on_delete=models.CASCADE)
    album = models.ForeignKey(Album, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"{self.album_id}: {self.label_id}"


__all__ = [
    "Album",
    "Author",
    "Bio",
    "Book",
    "Chapter",
    "ContentType",
    "DynamicBook",
    "Edition",
    "Label",
    "Labelling",
    "Note",
    "Publisher",
    "Review",
    "SluggedTag",
    "Tag",
]


class Page(models.Model):
    # A JSON column read for one key (as djangoproject.com's document
    # metadata): deferred-field offers that key alone.
    path = models.CharField(max_length=100)
    meta = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.path


class Stock(models.Model):
    """As oscar's StockRecord: a SKU unique only with its partner, a unique
    code, a date save() sets, and a file save() stores: what a bulk form
    of its per-row saves must look up by, and leaves undone."""

    partner = models.ForeignKey(Publisher, models.CASCADE, related_name="stocks")
    sku = models.CharField(max_length=50)
    code = models.CharField(max_length=50, unique=True)
    count = models.IntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)
    sheet = models.FileField(upload_to="sheets/", blank=True)

    class Meta:
        unique_together = [("partner", "sku")]

    def __str__(self) -> str:
        return self.sku


class Member(models.Model):
    """As oscar's User: its save() moves the anonymous alerts of its e-mail
    to it, one queryset update() per save."""

    email = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.email

    def save(self, *args: object, **kwargs: object) -> None:
        super().save(*args, **kwargs)  # type: ignore[arg-type]
        self._claim_publishers()  # claiming

    def _claim_publishers(self) -> None:
        Publisher.objects.filter(name=self.email).update(name=f"claimed {self.pk}")  # claim


class Team(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    """A symmetrical many-to-many to itself (friends are mutual), and one
    through a model with a field of its own that has no default (a role)."""

    name = models.CharField(max_length=50)
    friends = models.ManyToManyField("self", blank=True)
    teams = models.ManyToManyField(Team, through="Membership", blank=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    person = models.ForeignKey(Person, models.CASCADE)
    team = models.ForeignKey(Team, models.CASCADE)
    role = models.CharField(max_length=20)

    def __str__(self) -> str:
        return f"{self.person_id} in {self.team_id}: {self.role}"


class Badge(models.Model):
    code = models.CharField(max_length=20, unique=True)

    def __str__(self) -> str:
        return self.code


class Scout(models.Model):
    """A many-to-many whose through model's foreign keys name a to_field on
    both sides: its rows store the handle and the code, not primary keys."""

    handle = models.CharField(max_length=20, unique=True)
    badges = models.ManyToManyField(Badge, through="Award", blank=True)

    def __str__(self) -> str:
        return self.handle


class Award(models.Model):
    scout = models.ForeignKey(Scout, models.CASCADE, to_field="handle")
    badge = models.ForeignKey(Badge, models.CASCADE, to_field="code")

    def __str__(self) -> str:
        return f"{self.scout_id}: {self.badge_id}"


class Vee(models.Model):
    """A table named as a short SQL alias would be."""

    n = models.IntegerField(default=0)

    class Meta:
        db_table = "v"

    def __str__(self) -> str:
        return str(self.n)
