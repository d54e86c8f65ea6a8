"""The menu page, slow and optimized: same template, different query sets."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pizzas.menu import menu_pizzas, menu_pizzas_slow


def menu_slow(request: HttpRequest) -> HttpResponse:
    return render(request, "pizzas/menu.html", {"pizzas": menu_pizzas_slow()})


def menu(request: HttpRequest) -> HttpResponse:
    return render(request, "pizzas/menu.html", {"pizzas": menu_pizzas()})
