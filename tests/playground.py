"""The playground in headless Chromium (Debian's chromium and chromedriver,
driven by Selenium): the page loads with no request leaving 127.0.0.1,
a character is created from the page, a message sent, the reply streams in
with the memories it used, a memory search and an event work.
Usage: playground.py BASE_URL API_KEY"""

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

base, key = sys.argv[1:3]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 20)
try:
    driver.get(f"{base}/playground")
    wait.until(ready.presence_of_element_located((By.ID, "api-key")))
    assert driver.title == "VirLife playground", driver.title
    wait.until(lambda d: "API key" in d.find_element(By.ID, "status").text)

    field = driver.find_element(By.ID, "api-key")
    field.send_keys(key)
    driver.find_element(By.ID, "user-id").click()  # leaves the key field: it is kept and used

    driver.find_element(By.ID, "new-name").send_keys("Mara")
    driver.find_element(By.ID, "new-persona").send_keys("A lighthouse keeper who speaks in short sentences.")
    driver.find_element(By.ID, "create-character").click()
    wait.until(lambda d: any(o.text == "Mara" for o in Select(d.find_element(By.ID, "characters")).options))
    assert Select(driver.find_element(By.ID, "characters")).first_selected_option.text == "Mara"

    driver.find_element(By.ID, "event-description").send_keys("A storm tore the harbour flag away at dawn.")
    driver.find_element(By.ID, "push-event").click()
    wait.until(lambda d: d.find_element(By.ID, "event-status").text == "Remembered.")

    driver.find_element(By.ID, "message").send_keys("Did the storm take the harbour flag?")
    driver.find_element(By.ID, "send").click()
    reply = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#chat-log .reply")))
    wait.until(lambda d: reply.get_attribute("data-state") == "done")
    assert reply.text.strip(), "an empty reply"
    assert int(reply.get_attribute("data-deltas") or 0) > 0, "the reply arrived in pieces (streamed)"
    used = driver.find_elements(By.CSS_SELECTOR, "#chat-log .memories-used li")
    assert any("harbour flag" in item.text for item in used), [i.text for i in used]
    assert driver.find_element(By.ID, "status").text == "", driver.find_element(By.ID, "status").text

    driver.find_element(By.ID, "search-query").send_keys("storm flag")
    driver.find_element(By.ID, "search").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li"))
    first = driver.find_elements(By.CSS_SELECTOR, "#search-results li")[0].text
    assert "flag" in first, first

    # Every request the page made stayed on the service's origin.
    import json
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            hosts.add(message["params"]["request"]["url"].split("/")[2])
    origin = base.split("/")[2]
    assert hosts == {origin}, hosts
    # No script error; the one refused request is the page's first look
    # at the characters, before the key was given.
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and not (e["source"] == "network" and "/v1/characters?limit=100" in e["message"] and "401" in e["message"])]
    assert not errors, errors
    print("playground: page, character, event, streamed reply with its memories, search: ok")
finally:
    driver.quit()
