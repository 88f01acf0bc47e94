from django.urls import path

from preferences.unsubscribe_pages import unsubscribe_page, unsubscribe_undo_page

urlpatterns = [
    path("<str:token>", unsubscribe_page, name="unsubscribe"),
    path("<str:token>/undo", unsubscribe_undo_page, name="unsubscribe-undo"),
]
