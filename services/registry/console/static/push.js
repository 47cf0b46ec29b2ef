// "Alerts on this device" on the members' preferences page: registers the service worker,
// asks the browser for a push subscription with the platform's VAPID public key, and posts
// it to the registry with the page's own form (no fetch: the form carries the signed link).
(function () {
  "use strict";
  const section = document.getElementById("push");
  if (!section) return;
  const button = document.getElementById("push-subscribe");
  const status = document.getElementById("push-status");
  const form = document.getElementById("push-form");
  const say = (key) => { status.textContent = section.dataset[key]; };

  // base64url (the key as the registry has it) to the bytes subscribe() takes.
  const keyBytes = (text) => {
    const base64 = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  };

  if (!("serviceWorker" in navigator) || !("PushManager" in window)) {
    say("unsupported");
    if (button) button.disabled = true;
    return;
  }
  navigator.serviceWorker.register(section.dataset.worker, { scope: section.dataset.scope })
    .then(() => { section.dataset.workerState = "registered"; })
    .catch(() => { section.dataset.workerState = "failed"; say("failed"); });
  if (!button) return;

  button.addEventListener("click", async () => {
    button.disabled = true;
    say("working");
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("denied");
        button.disabled = false;
        return;
      }
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(section.dataset.key),
      });
      form.elements.subscription.value = JSON.stringify(subscription);
      form.submit();
    } catch (error) {
      section.dataset.error = error.name;
      say("failed");
      button.disabled = false;
    }
  });
})();
