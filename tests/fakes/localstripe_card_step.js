// Test only (tests/fakes/localstripe_server.py): the card step of Stripe.js's confirmCardPayment that localstripe's
// fake Stripe.js leaves out. Injected into the payment page before anything else runs, it wraps the fake's Stripe()
// as the fake defines it: confirmCardPayment posts the card element's card and the client secret to the harness's
// route in localstripe, and resolves with its answer, or hands a 3-D Secure card over to the fake's own
// confirmCardPayment (its "3D Secure" box, then _authenticate).
(function () {
  "use strict";
  let wrapped;
  Object.defineProperty(window, "Stripe", {
    configurable: true,
    get: function () { return wrapped; },
    set: function (fake) {
      wrapped = function (key, options) {
        const stripe = fake(key, options);
        const authenticate = stripe.confirmCardPayment;
        stripe.confirmCardPayment = async function (clientSecret, data) {
          const intent = clientSecret.split("_secret_")[0];
          const element = data && data.payment_method && data.payment_method.card;
          const typed = element && element.value ? element.value.card : {};
          // LOCALSTRIPE_BASE_API: the fake's own top-level constant (where it was loaded from).
          const response = await fetch(LOCALSTRIPE_BASE_API + "/_config/rxdesk/confirm_card/" + intent, {
            method: "POST",
            body: JSON.stringify({ client_secret: clientSecret, card: typed }),
          });
          const answer = await response.json();
          if (answer.next === "authenticate") {
            return authenticate(clientSecret, data);
          }
          return answer;
        };
        return stripe;
      };
    },
  });
})();
