// The members' service worker: shows the BIN's alerts that arrive by Web Push. The payload
// is what the push connector sends (title, body, lang, priority, delivery_id).
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (error) {
    message = { body: event.data ? event.data.text() : "" };
  }
  event.waitUntil(
    self.registration.showNotification(message.title || "BIN", {
      body: message.body || "",
      lang: message.lang || "",
      // One notification per delivery: a second copy of the same one replaces the first.
      tag: message.delivery_id || undefined,
      // An urgent alert stays on screen until the member has seen it.
      requireInteraction: message.priority === "urgent",
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
});
