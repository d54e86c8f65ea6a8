"""Models of the catalogue app: the shop's products, as in seed 003's examples.

seed 003 (backend performance talk) builds its examples on a catalogue much like
django-oscar's: products with a brand, a category carrying a large ``seo_text``,
images and reviews. The query sets below hold the "optimize_for_list" /
"optimize_for_details" pattern the talk recommends: compose the eager loading
once, on the QuerySet, instead of repeating it in every view.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.urls import reverse


class Brand(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    # A few kilobytes of text only the category page's <head> needs. seed 003:
    # "Do you really need all this data?" - list pages defer it.
    seo_text = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet["Product"]):
    def optimize_for_list(self) -> ProductQuerySet:
        """What a product row shows: brand and category (joined), images (prefetched)."""
        return self.select_related("brand", "category").prefetch_related("images")

    def optimize_for_details(self) -> ProductQuerySet:
        """The product page: the list row, its reviews, and the other products
        of its category with their brands."""
        return self.optimize_for_list().with_reviews().prefetch_related("category__products__brand")

    def with_reviews(self) -> ProductQuerySet:
        return self.prefetch_related("reviews")


class Product(models.Model):
    brand = models.ForeignKey(Brand, models.PROTECT, related_name="products")
    category = models.ForeignKey(Category, models.PROTECT, related_name="products")
    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    # The other side of stats.Impression's generic foreign key, so the shop has
    # generic relations both ways (product.impressions.all()).
    impressions = GenericRelation("stats.Impression", related_query_name="product")

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("catalogue:product-detail", args=[self.slug])


class ProductImage(models.Model):
    product = models.ForeignKey(Product, models.CASCADE, related_name="images")
    url = models.CharField(max_length=200)
    alt = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.url


class ReviewQuerySet(models.QuerySet["Review"]):
    def optimize_for_list(self) -> ReviewQuerySet:
        """seed 003's own example: the review row shows the product, its brand, its images."""
        return self.select_related("product__brand").prefetch_related("product__images")


class Review(models.Model):
    product = models.ForeignKey(Product, models.CASCADE, related_name="reviews")
    author = models.CharField(max_length=100)
    rating = models.PositiveSmallIntegerField()
    body = models.TextField()
    created = models.DateTimeField()

    objects = ReviewQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "id"]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.product_id} by {self.author}"

    @property
    def stars(self) -> str:
        return "★" * self.rating + "☆" * (5 - self.rating)
