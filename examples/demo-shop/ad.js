// A fake ad: records in the page that embeds it that it loaded (same origin in the demo).
window.parent.__adLoaded = true;
