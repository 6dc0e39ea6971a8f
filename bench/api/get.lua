-- wrk script: GET with the admin token; the path comes from wrk's URL.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
