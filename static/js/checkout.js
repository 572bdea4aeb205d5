// Checkout: Stripe.js turns the card into a payment method in the browser (no card
// number reaches our server), and runs the bank's 3-D Secure challenge when asked.
// A purchase paid fully with credits is a plain form post and needs none of this.
(function () {
  "use strict";
  if (typeof Stripe === "undefined") return;

  // Stripe's Stripe.js makes a PaymentMethod; the development emulator's
  // replacement has no createPaymentMethod (it resolves to nothing), so its
  // token's card id, which its PaymentIntents accept, is used instead.
  async function paymentMethodId(stripe, card) {
    const made = await stripe.createPaymentMethod({ type: "card", card: card });
    if (made && made.paymentMethod) return made.paymentMethod.id;
    if (made && made.error) throw new Error(made.error.message);
    const tokenised = await stripe.createToken(card);
    if (tokenised.error) throw new Error(tokenised.error.message);
    return tokenised.token.card.id;
  }

  // The development emulator's Stripe.js declares a global `class Element`, which
  // hides the DOM's Element from every script (htmx's checks among them). Once its
  // card element exists, the name is the DOM's again. Stripe's own script
  // declares no such name, so there this changes nothing.
  function restoreDomElement() {
    if (typeof Element !== "undefined" && Element !== window.Element) {
      Element = window.Element; // eslint-disable-line no-global-assign
    }
  }

  const form = document.getElementById("checkout-form");
  if (form) {
    const stripe = Stripe(form.dataset.stripeKey);
    const card = stripe.elements().create("card");
    restoreDomElement();
    card.mount("#card-element");
    const cashDue = () => {
      const breakdown = document.getElementById("breakdown");
      return Boolean(breakdown) && Number(breakdown.dataset.cashCents) > 0;
    };
    const showCard = () => { document.getElementById("card-section").hidden = !cashDue(); };
    document.body.addEventListener("htmx:afterSwap", showCard);
    showCard();

    form.addEventListener("submit", async (event) => {
      const submitter = event.submitter;
      if (!submitter || submitter.value !== "pay" || !cashDue()) return;
      event.preventDefault();
      const errors = document.getElementById("card-errors");
      errors.textContent = "";
      submitter.disabled = true;
      try {
        form.elements.payment_method_id.value = await paymentMethodId(stripe, card);
      } catch (error) {
        errors.textContent = (error && error.message) || "Check your card details.";
        submitter.disabled = false;
        return;
      }
      const action = document.createElement("input");
      action.type = "hidden";
      action.name = "action";
      action.value = "pay";
      form.appendChild(action);
      form.submit();
    });
  }

  // 3-D Secure: Stripe.js shows the bank's challenge; whatever it answers, the
  // server asks Stripe how the payment ended (the form posts back).
  const auth = document.getElementById("authenticate");
  if (auth) {
    restoreDomElement();
    const stripe = Stripe(auth.dataset.stripeKey);
    const report = () => document.getElementById("authenticate-form").submit();
    stripe.confirmCardPayment(auth.dataset.clientSecret).then(report, report);
  }
})();
