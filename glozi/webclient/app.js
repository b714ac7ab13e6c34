// A placeholder until the page is written: it shows the server's welcome.
const status = document.getElementById("status");
const socket = new WebSocket(new URL("/ws", location.href.replace(/^http/, "ws")));
socket.addEventListener("message", (event) => {
  const frame = JSON.parse(event.data);
  if (frame.type === "welcome") {
    status.textContent = `Connected to ${frame.name}.`;
  }
});
socket.addEventListener("close", () => {
  status.textContent = "Disconnected.";
});
