// alertrun's status page script: no library, nothing fetched but this server's own pages
// and API, with relative URLs (the page's <base> is the app's root).
"use strict";
(function () {
  const KEY = "alertrun-token";
  const token = () => sessionStorage.getItem(KEY);
  const headers = () => (token() ? { Authorization: "Bearer " + token() } : {});

  // Loads this page again with the token, and shows it in place of the sign-in page.
  async function loadWithToken() {
    const response = await fetch(location.href, { headers: headers(), cache: "no-store" });
    if (response.status === 401) {
      sessionStorage.removeItem(KEY);
      return false;
    }
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    document.title = doc.title;
    document.body.replaceWith(document.adoptNode(doc.body));
    init();
    return true;
  }

  function signIn(box) {
    const form = document.getElementById("token-form");
    if (!form) return;
    if (token()) loadWithToken();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, document.getElementById("token").value);
      if (!(await loadWithToken())) {
        document.getElementById("token-error").textContent = "That token was refused.";
      }
    });
  }

  async function decide(button) {
    const id = button.dataset.run;
    const comment = document.querySelector('[data-comment-for="' + id + '"]');
    const params = new URLSearchParams();
    if (comment && comment.value.trim()) params.set("comment", comment.value);
    const status = document.getElementById("decision-status");
    const url = "api/v1/runs/" + encodeURIComponent(id) + "/" + button.dataset.decide +
      (params.toString() ? "?" + params : "");
    const response = await fetch(url, { method: "POST", headers: headers() });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      status.textContent = "Run " + id + " is now " + body.state + ".";
      setTimeout(refresh, 500);
    } else {
      status.textContent = "Refused: " + (body.error || response.status);
    }
  }

  function refresh() {
    if (token()) loadWithToken(); else location.reload();
  }

  function init() {
    const box = document.querySelector("[data-sign-in]");
    if (box && box.dataset.signIn === "true") signIn(box);
    for (const button of document.querySelectorAll("button[data-decide]")) {
      button.addEventListener("click", () => decide(button));
    }
    // A run that has not ended: look again now and then; the page of an ended run has no
    // data-poll, so the polling stops with it.
    const poll = Number(document.body.dataset.poll || 0);
    if (poll > 0) setTimeout(refresh, poll * 1000);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
