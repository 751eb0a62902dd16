# Starts ExUnit, leaving out the integration tests when the CI tool has not provided services.
missing = Enum.reject(["DATABASE_URL", "REDIS_URL"], &System.get_env/1)

if missing == [] do
  ExUnit.start()
else
  ExUnit.start(exclude: [:integration])
  IO.puts("#{Enum.join(missing, " and ")} not set: excluding :integration tests")
end
