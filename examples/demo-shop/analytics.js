// A fake analytics tag. It records that it ran, and sets the analytics cookie the demo policy lists
// (_sl_stats), so that the browser tests can see the banner gate it and delete the cookie on withdrawal.
window.__analyticsRan = true;
window.dataLayer = window.dataLayer || [];
window.dataLayer.push({ event: "demo_analytics_ran" });
document.cookie = "_sl_stats=demo; Path=/; Max-Age=34128000; SameSite=Lax";
var shown = document.getElementById("analytics-status");
if (shown) shown.textContent = "Analytics ran on this page.";
