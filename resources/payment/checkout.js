// RxDesk's card payment page: Stripe.js's card element and confirmCardPayment, the outcome told to the host.
//
// The host gives the payment ({pack, tokens, amount_pence, currency, publishable_key, client_secret, stripe_js_url})
// and hears the outcome, as JSON text: {"outcome": "ready" | "paying" | "succeeded" | "processing" | "declined" |
// "error", "message"?, "code"?, "payment_intent"?}. No card detail is ever part of it: the card element belongs to
// Stripe.js. Two hosts: the RxDesk window (QWebChannel, object "host") and the local server of "Open in browser"
// (POST payment / outcome beside this page).
"use strict";

(function () {
  const statusLine = document.getElementById("status");
  const payButton = document.getElementById("pay");
  const form = document.getElementById("payment-form");
  let host = null;
  let payment = null;
  let stripe = null;
  let card = null;
  let busy = false;

  function say(text, kind) {
    statusLine.textContent = text;
    statusLine.className = "status " + (kind || "");
  }

  function tell(outcome) {
    if (host) {
      host.report(JSON.stringify(outcome));
    }
  }

  function money(pence, currency) {
    const amount = (pence / 100).toFixed(2);
    return (currency || "").toLowerCase() === "gbp" ? "£" + amount : amount + " " + currency.toUpperCase();
  }

  // ---- the host ------------------------------------------------------------------------------------------------
  function channelHost() {
    return new Promise(function (resolve) {
      new QWebChannel(qt.webChannelTransport, function (channel) {
        const app = channel.objects.host;
        resolve({
          details: function () {
            return new Promise(function (done) { app.details(function (text) { done(JSON.parse(text)); }); });
          },
          report: function (text) { app.report(text); },
        });
      });
    });
  }

  function browserHost() {
    return Promise.resolve({
      details: function () {
        return fetch("payment", { method: "POST", cache: "no-store" }).then(function (response) {
          if (!response.ok) {
            throw new Error("This payment page has been used already: start the top-up again in RxDesk.");
          }
          return response.json();
        });
      },
      report: function (text) {
        fetch("outcome", { method: "POST", body: text, cache: "no-store" }).catch(function () {});
      },
    });
  }

  // ---- Stripe.js -----------------------------------------------------------------------------------------------
  function loadStripe(url) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = url;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("The secure card form could not be loaded: check the network and try again.")); };
      document.head.appendChild(script);
    });
  }

  function mountCard() {
    stripe = Stripe(payment.publishable_key);
    const elements = stripe.elements({ locale: "en-GB" });
    card = elements.create("card", { style: { base: { fontSize: "16px" } } });
    card.mount("#card-element");
    card.on("change", function (event) {
      if (busy) {
        return;
      }
      if (event && event.error) {
        say(event.error.message, "declined");
      } else {
        say("Type the card number, expiry date and security code, then press Pay.");
      }
    });
    payButton.textContent = "Pay " + money(payment.amount_pence, payment.currency);
    payButton.disabled = false;
    say("Type the card number, expiry date and security code, then press Pay.");
    tell({ outcome: "ready" });
  }

  function declined(error) {
    const message = (error && error.message) || "The card was declined.";
    say(message + " Try another card.", "declined");
    tell({ outcome: "declined", message: message, code: (error && (error.decline_code || error.code)) || "" });
  }

  function finished(result) {
    busy = false;
    if (result.error) {
      const kind = result.error.type;
      if (kind === "card_error" || kind === "validation_error" || !kind) {
        declined(result.error);
        payButton.disabled = false;
      } else {
        const message = result.error.message || "The card processor did not answer.";
        say("The payment could not be completed: " + message, "error");
        tell({ outcome: "error", message: message });
        payButton.disabled = false;
      }
      return;
    }
    const intent = result.paymentIntent || {};
    if (intent.status === "succeeded") {
      payButton.disabled = true;
      say("Paid: thank you. The tokens arrive with the next sync.", "succeeded");
      tell({ outcome: "succeeded", payment_intent: intent.id });
    } else if (intent.status === "processing") {
      payButton.disabled = true;
      say("Your card issuer is still processing the payment: the tokens arrive once it is through.", "waiting");
      tell({ outcome: "processing", payment_intent: intent.id });
    } else if (intent.status === "requires_payment_method") {
      declined(intent.last_payment_error || { message: "The payment was not authenticated." });
      payButton.disabled = false;
    } else {
      say("The payment was not completed (" + intent.status + "): try again.", "error");
      tell({ outcome: "error", message: "The payment was not completed (" + intent.status + ")." });
      payButton.disabled = false;
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy || !stripe || payButton.disabled) {
      return;
    }
    busy = true;
    payButton.disabled = true;
    say("Paying… If your card issuer asks you to confirm the payment (3-D Secure), follow the steps it shows: " +
        "a window from your bank may open over this page.", "waiting");
    tell({ outcome: "paying" });
    stripe.confirmCardPayment(payment.client_secret, { payment_method: { card: card } })
      .then(finished, function (error) { finished({ error: { type: "api_error", message: String(error && error.message || error) } }); });
  });

  // ---- start ---------------------------------------------------------------------------------------------------
  const hosted = typeof qt !== "undefined" && qt.webChannelTransport ? channelHost() : browserHost();
  hosted
    .then(function (found) { host = found; return host.details(); })
    .then(function (details) {
      payment = details;
      document.getElementById("pack").textContent =
        details.pack.charAt(0).toUpperCase() + details.pack.slice(1) + ": " + details.tokens.toLocaleString("en-GB") + " tokens";
      document.getElementById("amount").textContent = money(details.amount_pence, details.currency);
      return loadStripe(details.stripe_js_url);
    })
    .then(mountCard)
    .catch(function (error) {
      const message = (error && error.message) || String(error);
      say(message, "error");
      tell({ outcome: "error", message: message });
    });
})();
